"""Reads the hotline's Open311 façade with `georeport` (PyPI), an Open311 client others wrote.

Usage: georeport_client.py ROOT JURISDICTION NUMBER FORMAT
Prints one JSON object with what the library made of each read; tests/open311.rs checks it.
"""
import json
import sys

from georeport import GeoReport


def as_list(value):
    # xmltodict gives a dict for a single element and a list for several.
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def main():
    root, jurisdiction, number, output_format = sys.argv[1:5]
    client = GeoReport(root, jurisdiction=jurisdiction, output_format=output_format)
    services = as_list(client.get_service_list())
    code = services[0]["service_code"]
    definition = client.get_service_definition(code)
    attributes = definition["attributes"]
    if output_format == "xml":
        attributes = as_list(attributes["attribute"])
    listed = as_list(client.get_service_requests(service_code=code))
    chosen = as_list(client.get_service_requests(service_request_id=number))
    one = client.get_service_request(number)
    print(json.dumps({
        "services": len(services),
        "first_service": {k: services[0].get(k) for k in ("service_code", "service_name", "group")},
        "attribute_codes": [a["code"] for a in attributes],
        "listed_ids": [r["service_request_id"] for r in listed],
        "chosen_ids": [r["service_request_id"] for r in chosen],
        "one": one,
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
