//! Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2) at /open311/v2/: a partner
//! platform, with the api_key an admin issued it, files a request the way the specification's
//! example does; it becomes a ticket on the 网上 channel through the same road as the public
//! form, and the partner follows it by its number, in JSON and in XML (the XML checked against
//! the element names and nesting the specification gives). Reads never show the caller and
//! never list confidential tickets; bad input gets the standard's error list and stores
//! nothing; each key has its budget. An Open311 client library others wrote (`georeport` from
//! PyPI) reads the façade too. On SQLite and PostgreSQL.

mod common;

use common::files::{contains, photo_with_gps};
use common::{first_leaf_category, Backend, TestClock, TestServer};
use hotline::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;

both_backends!(
    a_partner_files_the_specification_example_and_follows_it,
    the_xml_has_the_structure_the_specification_gives,
    reads_never_show_the_caller_and_never_list_confidential_tickets,
    bad_input_gets_the_standard_errors_and_nothing_is_stored,
    each_key_has_its_own_budget,
    an_open311_client_library_reads_the_facade,
    partner_media_url_becomes_a_photo_without_gps,
    partner_media_url_on_a_private_address_is_refused,
    partner_media_url_that_fails_is_noted_and_the_ticket_stays,
);

const ROOT: &str = "/open311/v2";

/// The specification's POST example, with this centre's service code, jurisdiction and key,
/// a mainland phone (the example's `111111111` is no number a hotline can call back) and the
/// resident's words in Chinese.
fn specification_example(api_key: &str) -> Vec<(&'static str, String)> {
    vec![
        ("api_key", api_key.to_string()),
        ("jurisdiction_id", "12345".into()),
        ("service_code", first_leaf_category()),
        ("lat", "37.76524078".into()),
        ("long", "-122.4212043".into()),
        ("address_string", "新华路18号新华里小区东门".into()),
        ("email", "smit333@sfgov.edu".into()),
        ("device_id", "tt222111".into()),
        ("account_id", "123456".into()),
        ("first_name", "john".into()),
        ("last_name", "smith".into()),
        ("phone", "13912345678".into()),
        ("description", "小区门口垃圾三天没人清运，气味很大。".into()),
        ("media_url", "http://www.example.com/image.jpg".into()),
    ]
}

struct Reply {
    status: StatusCode,
    content_type: String,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

async fn get(server: &TestServer, path: &str) -> Reply {
    let resp = server.client.get(format!("{}{ROOT}/{path}", server.base)).send().await.expect("sent");
    reply(resp).await
}

async fn file(server: &TestServer, format: &str, form: &[(&str, String)]) -> Reply {
    let resp =
        server.client.post(format!("{}{ROOT}/requests.{format}", server.base)).form(form).send().await.expect("sent");
    reply(resp).await
}

async fn reply(resp: reqwest::Response) -> Reply {
    let status = resp.status();
    let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    Reply { status, content_type, text: resp.text().await.unwrap_or_default() }
}

/// An admin issues a key to a partner; the answer shows it once.
async fn issue_key(server: &TestServer, partner: &str) -> (i64, String) {
    let admin = server.login("admin").await;
    let (status, issued) = admin.post("/api/v1/admin/open311/keys", json!({ "partner": partner })).await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    (issued["id"].as_i64().unwrap(), issued["api_key"].as_str().unwrap().to_string())
}

async fn ticket_count(server: &TestServer) -> usize {
    let supervisor = server.login("supervisor").await;
    let (_, list) = supervisor.get("/api/v1/tickets?limit=500").await;
    list["tickets"].as_array().unwrap().len()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn start(backend: Backend, config: Config) -> impl std::future::Future<Output = TestServer> {
    TestServer::start_with(backend, TestClock::at("2026-11-23T10:00:00+08:00"), config)
}

async fn a_partner_files_the_specification_example_and_follows_it(backend: Backend) {
    let server = start(backend, Config::default()).await;
    let (_, api_key) = issue_key(&server, "随手拍小程序").await;

    // Discovery and the service list, shaped as the specification's examples.
    let discovery = get(&server, "discovery.json").await.json();
    assert_eq!(keys(&discovery), set(&["changeset", "contact", "key_service", "endpoints"]));
    let endpoint = &discovery["endpoints"][0];
    assert_eq!(endpoint["specification"], "http://wiki.open311.org/GeoReport_v2");
    assert_eq!(endpoint["url"], format!("http://127.0.0.1:8080{ROOT}"));
    assert_eq!(endpoint["formats"], json!(["text/xml", "application/json"]));
    let services = get(&server, "services.json").await;
    assert!(services.content_type.starts_with("application/json"), "{}", services.content_type);
    let services = services.json();
    let code = first_leaf_category();
    let service = services.as_array().unwrap().iter().find(|s| s["service_code"] == code.as_str()).unwrap();
    assert_eq!(
        keys(service),
        set(&["service_code", "service_name", "description", "metadata", "type", "keywords", "group"])
    );
    let catalog = common::catalog();
    assert_eq!(service["service_name"], catalog.district.category(&code).unwrap().name.as_str());
    assert_eq!(services.as_array().unwrap().len(), catalog.district.leaf_categories().count());
    let definition = get(&server, &format!("services/{code}.json")).await.json();
    assert_eq!(definition["service_code"], code.as_str());
    let attribute = &definition["attributes"][0];
    assert_eq!(
        keys(attribute),
        set(&["variable", "code", "datatype", "required", "datatype_description", "order", "description", "values"])
    );
    assert!(attribute["values"].as_array().unwrap().iter().any(|v| v["key"] == "complaint" && v["name"] == "投诉"));

    // The specification's POST example.
    let mut form = specification_example(&api_key);
    form.push(("attribute[kind]", "complaint".into()));
    let filed = file(&server, "json", &form).await;
    assert_eq!(filed.status, StatusCode::CREATED, "{}", filed.text);
    let filed = filed.json();
    assert_eq!(keys(&filed[0]), set(&["service_request_id", "token", "service_notice", "account_id"]));
    let number = filed[0]["service_request_id"].as_str().unwrap().to_string();
    let token = filed[0]["token"].as_str().unwrap().to_string();
    assert!(number.starts_with("20261123-"), "requests are identified by the ticket number: {number}");

    // The same road as the public form: a 网上 ticket routed by the rules as the form's would be.
    let (status, public) = server
        .request(
            Method::POST,
            "/api/v1/public/requests",
            None,
            Some(json!({
                "kind": "complaint", "category": code, "content": "小区门口垃圾三天没人清运，气味很大。",
                "address": "新华路18号新华里小区东门", "phone": "13912345678"
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{public}");
    let supervisor = server.login("supervisor").await;
    let (_, ticket) = supervisor.get(&format!("/api/v1/tickets/{number}")).await;
    let (_, twin) = supervisor.get(&format!("/api/v1/tickets/{}", public["number"].as_str().unwrap())).await;
    assert_eq!((ticket["channel"].as_str(), ticket["kind"].as_str()), (Some("web"), Some("complaint")));
    assert_eq!(
        (&ticket["status"], &ticket["lead"], &ticket["street"]),
        (&twin["status"], &twin["lead"], &twin["street"])
    );
    assert_eq!(
        (ticket["caller_name"].as_str(), ticket["caller_phone"].as_str()),
        (Some("john smith"), Some("13912345678"))
    );

    // The history names the partner and keeps what the standard sent beside the ticket.
    let (_, events) = supervisor.get(&format!("/api/v1/tickets/{number}/events")).await;
    let events = events.as_array().unwrap();
    assert_eq!(events[0]["actor"]["username"], "open311:随手拍小程序", "{}", events[0]);
    let partner = events.iter().find(|e| e["type"] == "partner_filed").expect("partner_filed in the history");
    assert_eq!(partner["data"]["partner"], "随手拍小程序");
    assert_eq!(partner["data"]["media_url"], "http://www.example.com/image.jpg");
    assert_eq!(partner["data"]["email"], "smit333@sfgov.edu");
    assert_eq!(
        (partner["data"]["lat"].as_str(), partner["data"]["long"].as_str()),
        (Some("37.76524078"), Some("-122.4212043"))
    );

    // Following it: one request, a list of one, found by its token too.
    let one = get(&server, &format!("requests/{number}.json?jurisdiction_id=12345")).await.json();
    let request = &one[0];
    assert_eq!(request["service_request_id"], number.as_str());
    assert_eq!((request["status"].as_str(), request["service_code"].as_str()), (Some("open"), Some(code.as_str())));
    let requested = request["requested_datetime"].as_str().unwrap();
    assert!(requested.starts_with("2026-11-23T10:0") && requested.ends_with("+08:00"), "{requested}");
    assert_eq!((request["lat"].as_f64(), request["long"].as_f64()), (Some(37.76524078), Some(-122.4212043)));
    assert_eq!(request["media_url"], "http://www.example.com/image.jpg");
    assert_eq!(request["address"], "新华路18号新华里小区东门");
    for field in ["email", "first_name", "last_name", "phone"] {
        assert!(request.get(field).is_none(), "{field} in {request}");
    }
    if let Some(lead) = ticket["lead"].as_str() {
        let department = catalog.district.department(lead).unwrap();
        assert_eq!(request["agency_responsible"], department.name.as_str());
        let due = chrono::DateTime::parse_from_rfc3339(ticket["reply_due_at"].as_str().unwrap()).unwrap();
        let local = due.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap());
        assert_eq!(request["expected_datetime"], local.to_rfc3339_opts(chrono::SecondsFormat::Secs, false));
        assert!(request["service_notice"].as_str().unwrap().contains(&local.format("%Y-%m-%d %H:%M").to_string()));

        // The department's public answer becomes the status notes.
        let department_user = server.login(lead).await;
        department_user.act(&number, "accept", json!(null)).await;
        if ticket["assists"].as_array().is_some_and(|a| !a.is_empty()) {
            supervisor.act(&number, "waive-assists", json!({ "reason": "协办单位已口头答复" })).await;
        }
        department_user
            .act(&number, "reply", json!({ "outcome": "solved", "text": "已安排环卫车当天清运，并增加清运频次。" }))
            .await;
        let replied = get(&server, &format!("requests/{number}.json")).await.json();
        assert_eq!(replied[0]["status_notes"], "已安排环卫车当天清运，并增加清运频次。");
        assert_eq!(replied[0]["agency_responsible"], department.name.as_str());
    } else {
        assert_eq!(request["status_notes"], "已受理");
    }
    let by_token = get(&server, &format!("tokens/{token}.json")).await.json();
    assert_eq!(by_token, json!([{ "service_request_id": number, "token": token }]));

    // Listing with the standard's filters.
    let ids = |v: Value| -> Vec<String> {
        v.as_array().unwrap().iter().map(|r| r["service_request_id"].as_str().unwrap().to_string()).collect()
    };
    let listed = ids(get(&server, &format!("requests.json?service_code={code}&status=open")).await.json());
    assert!(listed.contains(&number), "{listed:?}");
    assert!(ids(get(&server, "requests.json?status=closed").await.json()).is_empty());
    let window = "start_date=2026-11-23T00:00:00%2B08:00&end_date=2026-11-23T23:59:59%2B08:00";
    assert_eq!(ids(get(&server, &format!("requests.json?{window}")).await.json()).len(), 2);
    assert!(ids(get(&server, "requests.json?end_date=2026-11-22T00:00:00Z").await.json()).is_empty());
    let chosen = ids(get(&server, &format!("requests.json?service_request_id={number}&status=closed")).await.json());
    assert_eq!(chosen, vec![number.clone()], "service_request_id overrides the other filters");
    server.stop().await;
}

/// A small element tree read with quick-xml, to check names and nesting.
#[derive(Debug)]
struct Element {
    name: String,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn parse(xml: &str) -> Element {
        use quick_xml::events::Event;
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut stack = vec![Element { name: String::new(), children: Vec::new(), text: String::new() }];
        loop {
            match reader.read_event().unwrap_or_else(|e| panic!("bad XML ({e}): {xml}")) {
                Event::Start(e) => stack.push(Element {
                    name: e.name().as_ref().to_string(),
                    children: Vec::new(),
                    text: String::new(),
                }),
                Event::Empty(e) => {
                    let name = e.name().as_ref().to_string();
                    stack.last_mut().unwrap().children.push(Element { name, children: Vec::new(), text: String::new() })
                }
                Event::Text(t) => stack.last_mut().unwrap().text.push_str(&t.xml10_content()),
                Event::End(_) => {
                    let done = stack.pop().unwrap();
                    stack.last_mut().unwrap().children.push(done);
                }
                Event::Eof => break,
                _ => {}
            }
        }
        let mut document = stack.pop().unwrap();
        assert_eq!(document.children.len(), 1, "one root element: {xml}");
        document.children.pop().unwrap()
    }

    fn child_names(&self) -> BTreeSet<String> {
        self.children.iter().map(|c| c.name.clone()).collect()
    }

    fn child(&self, name: &str) -> &Element {
        self.children.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no <{name}> in <{}>", self.name))
    }

    /// Every child is named `item` (a list element of the specification).
    fn list_of(&self, item: &str) -> &[Element] {
        assert!(!self.children.is_empty(), "<{}> is empty", self.name);
        assert_eq!(self.child_names(), set(&[item]), "<{}> holds only <{item}>", self.name);
        &self.children
    }
}

async fn xml(server: &TestServer, path: &str) -> Element {
    let reply = get(server, path).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text);
    assert!(reply.content_type.starts_with("text/xml"), "{path}: {}", reply.content_type);
    assert!(reply.text.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"), "{}", reply.text);
    Element::parse(&reply.text)
}

async fn the_xml_has_the_structure_the_specification_gives(backend: Backend) {
    let server = start(backend, Config::default()).await;
    let (_, api_key) = issue_key(&server, "市民通APP").await;

    let discovery = xml(&server, "discovery.xml").await;
    assert_eq!(discovery.name, "discovery");
    assert_eq!(discovery.child_names(), set(&["changeset", "contact", "key_service", "endpoints"]));
    let endpoint = &discovery.child("endpoints").list_of("endpoint")[0];
    assert_eq!(endpoint.child_names(), set(&["specification", "url", "changeset", "type", "formats"]));
    let formats: Vec<&str> = endpoint.child("formats").list_of("format").iter().map(|f| f.text.as_str()).collect();
    assert_eq!(formats, ["text/xml", "application/json"]);

    let services = xml(&server, "services.xml").await;
    assert_eq!(services.name, "services");
    let service = &services.list_of("service")[0];
    assert_eq!(
        service.child_names(),
        set(&["service_code", "service_name", "description", "metadata", "type", "keywords", "group"])
    );
    assert_eq!((service.child("metadata").text.as_str(), service.child("type").text.as_str()), ("true", "realtime"));

    let code = first_leaf_category();
    let definition = xml(&server, &format!("services/{code}.xml")).await;
    assert_eq!(definition.name, "service_definition");
    assert_eq!(definition.child_names(), set(&["service_code", "attributes"]));
    let attribute = &definition.child("attributes").list_of("attribute")[0];
    assert_eq!(
        attribute.child_names(),
        set(&["variable", "code", "datatype", "required", "datatype_description", "order", "description", "values"])
    );
    let value = &attribute.child("values").list_of("value")[0];
    assert_eq!(value.child_names(), set(&["key", "name"]));

    // POST answers in XML too.
    let filed = file(&server, "xml", &specification_example(&api_key)).await;
    assert_eq!(filed.status, StatusCode::CREATED, "{}", filed.text);
    let filed = Element::parse(&filed.text);
    assert_eq!(filed.name, "service_requests");
    let request = &filed.list_of("request")[0];
    let names = request.child_names();
    assert!(set(&["service_request_id", "token", "service_notice"]).is_subset(&names), "{names:?}");
    assert!(names.is_subset(&set(&["service_request_id", "token", "service_notice", "account_id"])), "{names:?}");
    let number = request.child("service_request_id").text.clone();
    let token = request.child("token").text.clone();

    for path in [format!("requests/{number}.xml"), "requests.xml".to_string()] {
        let requests = xml(&server, &path).await;
        assert_eq!(requests.name, "service_requests");
        let request = &requests.list_of("request")[0];
        let names = request.child_names();
        for required in [
            "service_request_id",
            "status",
            "status_notes",
            "service_name",
            "service_code",
            "service_notice",
            "requested_datetime",
            "updated_datetime",
            "address",
            "lat",
            "long",
            "media_url",
            "description",
        ] {
            assert!(names.contains(required), "{path}: no <{required}> in {names:?}");
        }
        let allowed = set(&[
            "service_request_id",
            "status",
            "status_notes",
            "service_name",
            "service_code",
            "description",
            "agency_responsible",
            "service_notice",
            "requested_datetime",
            "updated_datetime",
            "expected_datetime",
            "address",
            "address_id",
            "zipcode",
            "lat",
            "long",
            "media_url",
        ]);
        assert!(names.is_subset(&allowed), "{path}: elements beyond the specification's: {names:?}");
        assert_eq!(request.child("service_request_id").text, number);
        assert_eq!(request.child("status").text, "open");
    }
    let by_token = xml(&server, &format!("tokens/{token}.xml")).await;
    let answer = &by_token.list_of("request")[0];
    assert_eq!(answer.child_names(), set(&["service_request_id", "token"]));
    assert_eq!(
        (answer.child("service_request_id").text.as_str(), answer.child("token").text.as_str()),
        (number.as_str(), token.as_str())
    );

    // Errors: <errors><error><code/><description/></error></errors>.
    let missing = get(&server, "services/99.99.xml").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.content_type.starts_with("text/xml"));
    let errors = Element::parse(&missing.text);
    assert_eq!(errors.name, "errors");
    let error = &errors.list_of("error")[0];
    assert_eq!(error.child_names(), set(&["code", "description"]));
    assert_eq!(error.child("code").text, "404");
    server.stop().await;
}

async fn reads_never_show_the_caller_and_never_list_confidential_tickets(backend: Backend) {
    let server = start(backend, Config::default()).await;
    let (_, api_key) = issue_key(&server, "随手拍小程序").await;
    let operator = server.login("operator").await;
    let open_call = operator.log_call(json!({ "caller_name": "赵大爷", "caller_phone": "13700001111" })).await;
    let secret_call = operator
        .log_call(json!({ "confidential": true, "caller_name": "钱女士", "caller_phone": "13700002222",
            "content": "举报某餐馆后厨卫生问题，请为我保密。" }))
        .await;
    let mut form = specification_example(&api_key);
    for (name, value) in form.iter_mut() {
        match *name {
            "first_name" => *value = "小红".into(),
            "last_name" => *value = "孙".into(),
            "phone" => *value = "13700003333".into(),
            "email" => *value = "sunxh@example.cn".into(),
            _ => {}
        }
    }
    let filed = file(&server, "json", &form).await;
    assert_eq!(filed.status, StatusCode::CREATED, "{}", filed.text);
    let partner_number = filed.json()[0]["service_request_id"].as_str().unwrap().to_string();

    let mut every_read = String::new();
    for format in ["json", "xml"] {
        let listed = get(&server, &format!("requests.{format}")).await;
        assert_eq!(listed.status, StatusCode::OK);
        every_read.push_str(&listed.text);
    }
    let listed = get(&server, "requests.json").await.json();
    let ids: Vec<&str> = listed.as_array().unwrap().iter().map(|r| r["service_request_id"].as_str().unwrap()).collect();
    let open_number = open_call["number"].as_str().unwrap();
    let secret_number = secret_call["number"].as_str().unwrap();
    assert!(ids.contains(&open_number) && ids.contains(&partner_number.as_str()), "{ids:?}");
    assert!(!ids.contains(&secret_number), "a confidential ticket is never listed: {ids:?}");

    // A call's words and place stay with the centre; the standard's reads show its progress.
    let call = listed.as_array().unwrap().iter().find(|r| r["service_request_id"] == open_number).unwrap();
    assert!(call.get("description").is_none() && call.get("address").is_none(), "{call}");
    for format in ["json", "xml"] {
        let one = get(&server, &format!("requests/{open_number}.{format}")).await;
        assert_eq!(one.status, StatusCode::OK);
        every_read.push_str(&one.text);
        let one = get(&server, &format!("requests/{partner_number}.{format}")).await;
        every_read.push_str(&one.text);
        let secret = get(&server, &format!("requests/{secret_number}.{format}")).await;
        assert_eq!(secret.status, StatusCode::NOT_FOUND, "a confidential ticket is not found: {}", secret.text);
        let chosen = get(&server, &format!("requests.{format}?service_request_id={secret_number},{open_number}")).await;
        assert!(!chosen.text.contains(secret_number), "{}", chosen.text);
        every_read.push_str(&chosen.text);
    }
    for private in
        ["赵大爷", "13700001111", "钱女士", "13700002222", "孙小红", "13700003333", "sunxh@example.cn", "请为我保密"]
    {
        assert!(!every_read.contains(private), "{private} in a read");
    }
    server.stop().await;
}

async fn bad_input_gets_the_standard_errors_and_nothing_is_stored(backend: Backend) {
    let server = start(backend, Config::default()).await;
    let (key_id, api_key) = issue_key(&server, "随手拍小程序").await;
    let before = ticket_count(&server).await;
    let with = |changes: &[(&'static str, &str)], without: &[&str]| -> Vec<(&'static str, String)> {
        let mut form: Vec<(&'static str, String)> =
            specification_example(&api_key).into_iter().filter(|(k, _)| !without.contains(k)).collect();
        for &(name, value) in changes {
            form.retain(|(k, _)| *k != name);
            form.push((name, value.to_string()));
        }
        form
    };
    // (what is wrong, the form sent, the status answered, the field the error names)
    type Case<'a> = (&'a str, Vec<(&'static str, String)>, StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        ("unknown service", with(&[("service_code", "99.99.99")], &[]), StatusCode::NOT_FOUND, "service_code"),
        (
            "a group is no service",
            with(&[("service_code", first_leaf_category().rsplit_once('.').unwrap().0)], &[]),
            StatusCode::NOT_FOUND,
            "service_code",
        ),
        ("no location", with(&[], &["lat", "long", "address_string"]), StatusCode::BAD_REQUEST, "location"),
        ("latitude off the Earth", with(&[("lat", "91.5")], &[]), StatusCode::BAD_REQUEST, "lat"),
        ("longitude not a number", with(&[("long", "东经116度")], &[]), StatusCode::BAD_REQUEST, "long"),
        ("lat without long", with(&[], &["long"]), StatusCode::BAD_REQUEST, "lat and long"),
        ("the specification's phone", with(&[("phone", "111111111")], &[]), StatusCode::BAD_REQUEST, "phone"),
        ("unknown attribute", with(&[("attribute[colour]", "red")], &[]), StatusCode::BAD_REQUEST, "attribute[colour]"),
        ("unknown kind", with(&[("attribute[kind]", "rant")], &[]), StatusCode::BAD_REQUEST, "attribute[kind]"),
        ("unknown key", with(&[("api_key", "not-a-key")], &[]), StatusCode::FORBIDDEN, "api_key"),
        ("no key", with(&[], &["api_key"]), StatusCode::FORBIDDEN, "api_key"),
        (
            "another jurisdiction",
            with(&[("jurisdiction_id", "sfgov.org")], &[]),
            StatusCode::NOT_FOUND,
            "jurisdiction_id",
        ),
    ];
    for (what, form, status, named) in cases {
        for format in ["json", "xml"] {
            let reply = file(&server, format, &form).await;
            assert_eq!(reply.status, status, "{what} ({format}): {}", reply.text);
            if format == "json" {
                let errors = reply.json();
                assert_eq!(keys(&errors[0]), set(&["code", "description"]), "{what}");
                assert_eq!(errors[0]["code"], status.as_u16(), "{what}");
                assert!(errors[0]["description"].as_str().unwrap().contains(named), "{what}: {errors}");
            } else {
                assert!(
                    reply.text.contains(&format!("<errors><error><code>{}</code>", status.as_u16())),
                    "{}",
                    reply.text
                );
            }
        }
    }
    // Not form-urlencoded, unknown resource, unknown format, bad filters.
    let resp = server
        .client
        .post(format!("{}{ROOT}/requests.json", server.base))
        .header("content-type", "application/json")
        .body(json!({ "api_key": api_key, "service_code": first_leaf_category() }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    for (path, status) in [
        ("requests.csv", StatusCode::NOT_FOUND),
        ("widgets.json", StatusCode::NOT_FOUND),
        ("requests.json?status=pending", StatusCode::BAD_REQUEST),
        ("requests.json?start_date=last-week", StatusCode::BAD_REQUEST),
        ("requests.json?jurisdiction_id=sfgov.org", StatusCode::NOT_FOUND),
        ("requests/20261123-999999.json", StatusCode::NOT_FOUND),
        ("requests/638344.json", StatusCode::BAD_REQUEST),
        ("tokens/12345.json", StatusCode::NOT_FOUND),
    ] {
        let reply = get(&server, path).await;
        assert_eq!(reply.status, status, "{path}: {}", reply.text);
        assert_eq!(reply.json()[0]["code"], status.as_u16(), "{path}");
    }
    assert_eq!(ticket_count(&server).await, before, "nothing stored");

    // Keys: listed without the key, revocable; a revoked key is refused; only admins manage them.
    let admin = server.login("admin").await;
    let (_, listed) = admin.get("/api/v1/admin/open311/keys").await;
    assert_eq!(listed[0]["partner"], "随手拍小程序");
    assert!(!listed.to_string().contains(&api_key), "the key is shown once only");
    let operator = server.login("operator").await;
    let (status, _) = operator.get("/api/v1/admin/open311/keys").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = admin.post("/api/v1/admin/open311/keys", json!({ "partner": " " })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(file(&server, "json", &specification_example(&api_key)).await.status, StatusCode::CREATED);
    let (status, revoked) = admin.post(&format!("/api/v1/admin/open311/keys/{key_id}/revoke"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    let refused = file(&server, "json", &specification_example(&api_key)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    let (status, _) = admin.post("/api/v1/admin/open311/keys/999999/revoke", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(ticket_count(&server).await, before + 1);
    server.stop().await;
}

async fn each_key_has_its_own_budget(backend: Backend) {
    let server = start(backend, Config { open311_requests_per_hour: 2, ..Config::default() }).await;
    let (_, busy) = issue_key(&server, "随手拍小程序").await;
    let (_, quiet) = issue_key(&server, "市民通APP").await;
    for _ in 0..2 {
        assert_eq!(file(&server, "json", &specification_example(&busy)).await.status, StatusCode::CREATED);
    }
    let before = ticket_count(&server).await;
    let over = file(&server, "json", &specification_example(&busy)).await;
    assert_eq!(over.status, StatusCode::TOO_MANY_REQUESTS, "{}", over.text);
    assert_eq!(over.json()[0]["code"], 429);
    assert!(over.json()[0]["description"].as_str().unwrap().contains("随手拍小程序"));
    assert_eq!(ticket_count(&server).await, before, "nothing stored");
    assert_eq!(file(&server, "json", &specification_example(&quiet)).await.status, StatusCode::CREATED);
    server.stop().await;
}

/// The Python interpreter with `georeport` installed (ops/test.sh makes it when missing).
fn georeport_python() -> Option<std::path::PathBuf> {
    let python = std::env::var_os("HOTLINE_TEST_GEOREPORT_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/georeport-venv/bin/python"));
    let works =
        std::process::Command::new(&python).args(["-c", "import georeport"]).output().is_ok_and(|o| o.status.success());
    works.then_some(python)
}

async fn an_open311_client_library_reads_the_facade(backend: Backend) {
    let Some(python) = georeport_python() else {
        eprintln!("SKIPPED: georeport (PyPI) is not installed; ops/test.sh installs it in target/georeport-venv");
        return;
    };
    let server = start(backend, Config::default()).await;
    let (_, api_key) = issue_key(&server, "随手拍小程序").await;
    let filed = file(&server, "json", &specification_example(&api_key)).await;
    let number = filed.json()[0]["service_request_id"].as_str().unwrap().to_string();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/open311/georeport_client.py");
    for format in ["json", "xml"] {
        let root = format!("{}{ROOT}", server.base);
        let out = tokio::process::Command::new(&python)
            .arg(&script)
            .args([root.as_str(), "12345", number.as_str(), format])
            .env("NO_PROXY", "127.0.0.1")
            .output()
            .await
            .expect("python runs");
        assert!(out.status.success(), "{format}: {}", String::from_utf8_lossy(&out.stderr));
        let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
        let code = first_leaf_category();
        assert_eq!(seen["services"], common::catalog().district.leaf_categories().count(), "{format}: {seen}");
        assert_eq!(seen["first_service"]["service_code"], code.as_str(), "{format}: {seen}");
        assert_eq!(seen["attribute_codes"], json!(["kind"]), "{format}");
        assert_eq!(seen["listed_ids"], json!([number]), "{format}: {seen}");
        assert_eq!(seen["chosen_ids"], json!([number]), "{format}");
        let one = &seen["one"];
        assert_eq!((one["service_request_id"].as_str(), one["status"].as_str()), (Some(number.as_str()), Some("open")));
        assert_eq!(one["media_url"], "http://www.example.com/image.jpg", "{format}: {one}");
        let requested = one["requested_datetime"].as_str().unwrap();
        assert!(requested.starts_with("2026-11-23T10:0") && requested.ends_with("+08:00"), "{requested}");
        for private in ["13912345678", "smit333", "john"] {
            assert!(!one.to_string().contains(private), "{format}: {private} in {one}");
        }
    }
    server.stop().await;
}

// ---- media_url: the partner's photo fetched into an attachment -------------------------------

/// A partner's web server on loopback: `/photos/{name}` is a camera photo with GPS in its
/// EXIF block, `/gone.jpg` answers 404, `/huge.jpg` streams 2 MB with no length declared,
/// `/slow.jpg` takes 30 s to answer.
/// Counts the requests it gets.
struct PartnerSite {
    base: String,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    _serving: tokio::task::JoinHandle<()>,
}

impl PartnerSite {
    async fn start() -> PartnerSite {
        use axum::routing::get;
        use std::sync::atomic::Ordering;
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = hits.clone();
        let app = axum::Router::new()
            .route("/photos/{name}", get(|| async { ([("content-type", "image/jpeg")], photo_with_gps(640, 480)) }))
            .route("/gone.jpg", get(|| async { (axum::http::StatusCode::NOT_FOUND, "no such photo") }))
            .route(
                "/slow.jpg",
                get(|| async {
                    tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                    photo_with_gps(64, 64)
                }),
            )
            .route(
                "/huge.jpg",
                get(|| async {
                    let mut first = photo_with_gps(64, 64);
                    first.resize(64 * 1024, 0);
                    let chunks = (0..32).map(move |_| Ok::<_, std::io::Error>(bytes::Bytes::from(first.clone())));
                    axum::body::Body::from_stream(futures::stream::iter(chunks))
                }),
            )
            .layer(axum::middleware::from_fn(move |req, next: axum::middleware::Next| {
                counted.fetch_add(1, Ordering::SeqCst);
                async move { next.run(req).await }
            }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let serving = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        PartnerSite { base, hits, _serving: serving }
    }

    fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The partner files the specification's example with its own `media_url`; the number.
async fn file_with_media(server: &TestServer, api_key: &str, media_url: &str) -> String {
    let mut form: Vec<(&str, String)> =
        specification_example(api_key).into_iter().filter(|(k, _)| *k != "media_url").collect();
    form.push(("media_url", media_url.to_string()));
    let filed = file(server, "json", &form).await;
    assert_eq!(filed.status, StatusCode::CREATED, "the request does not wait for the photo: {}", filed.text);
    filed.json()[0]["service_request_id"].as_str().unwrap().to_string()
}

/// The ticket's history once it holds an event of type `kind` (the fetch runs after the
/// request was answered): waits for it, 30 s at most.
async fn history_with(server: &TestServer, number: &str, kind: &str) -> Vec<Value> {
    let supervisor = server.login("supervisor").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (status, events) = supervisor.get(&format!("/api/v1/tickets/{number}/events")).await;
        assert_eq!(status, StatusCode::OK, "{events}");
        let events = events.as_array().unwrap().clone();
        if events.iter().any(|e| e["type"] == kind) {
            return events;
        }
        assert!(std::time::Instant::now() < deadline, "no {kind} in the history of {number}: {events:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn media_config(allow_private: bool) -> Config {
    Config {
        open311_media_allow_private: allow_private,
        open311_media_timeout_secs: 10,
        attachment_max_bytes: 1024 * 1024,
        ..Config::default()
    }
}

async fn partner_media_url_becomes_a_photo_without_gps(backend: Backend) {
    let site = PartnerSite::start().await;
    let server = start(backend, media_config(true)).await;
    let (_, api_key) = issue_key(&server, "随手拍小程序").await;
    let number = file_with_media(&server, &api_key, &format!("{}/photos/%E9%97%A8%E5%8F%A3.jpg", site.base)).await;

    // The photo is the caller's, added in the partner's name.
    let events = history_with(&server, &number, "attachment_added").await;
    let added = events.iter().find(|e| e["type"] == "attachment_added").unwrap();
    assert_eq!(added["actor"]["username"], "open311:随手拍小程序", "{added}");
    assert_eq!(added["data"]["name"], "门口.jpg");
    assert_eq!((added["data"]["purpose"].as_str(), added["data"]["public"].as_bool()), (Some("intake"), Some(true)));
    assert!(!events.iter().any(|e| e["type"] == "media_fetch_failed"), "{events:?}");

    // Listed with the ticket; re-encoded like every upload: the GPS never reaches anyone.
    let supervisor = server.login("supervisor").await;
    let (_, listed) = supervisor.get(&format!("/api/v1/tickets/{number}/attachments")).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["content_type"], "image/jpeg");
    let got = server
        .client
        .get(format!("{}{}", server.base, listed[0]["url"].as_str().unwrap()))
        .bearer_auth(&supervisor.token)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    let body = got.bytes().await.unwrap();
    assert!(contains(&photo_with_gps(640, 480), b"SECRET-HOME-ADDRESS"));
    assert!(!contains(&body, b"SECRET-HOME-ADDRESS"), "the GPS block was stripped");
    assert!(!contains(&body, b"Exif\0\0"));
    let picture = image::load_from_memory(&body).expect("still a picture");
    assert_eq!((picture.width(), picture.height()), (640, 480));
    server.stop().await;
}

async fn partner_media_url_on_a_private_address_is_refused(backend: Backend) {
    let site = PartnerSite::start().await;
    let server = start(backend, media_config(false)).await;
    let (_, api_key) = issue_key(&server, "随手拍小程序").await;
    let url = format!("{}/photos/a.jpg", site.base);
    let number = file_with_media(&server, &api_key, &url).await;

    let events = history_with(&server, &number, "media_fetch_failed").await;
    let failed = events.iter().find(|e| e["type"] == "media_fetch_failed").unwrap();
    assert_eq!(failed["actor"]["username"], "open311:随手拍小程序");
    assert_eq!(failed["data"]["url"], url.as_str());
    let reason = failed["data"]["reason"].as_str().unwrap();
    assert!(reason.contains("loopback") && reason.contains("open311_media_allow_private"), "{reason}");
    assert_eq!(site.hits(), 0, "nothing was asked of a loopback address");
    assert!(!events.iter().any(|e| e["type"] == "attachment_added"));
    // The ticket stands, and the partner can follow it.
    let one = get(&server, &format!("requests/{number}.json")).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    server.stop().await;
}

async fn partner_media_url_that_fails_is_noted_and_the_ticket_stays(backend: Backend) {
    // Not found, too large, too slow.
    let site = PartnerSite::start().await;
    let config = Config { open311_media_timeout_secs: 2, ..media_config(true) };
    let server = start(backend, config).await;
    let (_, api_key) = issue_key(&server, "随手拍小程序").await;
    for (path, why) in
        [("/gone.jpg", "404"), ("/huge.jpg", "attachment_max_bytes"), ("/slow.jpg", "open311_media_timeout_secs")]
    {
        let url = format!("{}{path}", site.base);
        let number = file_with_media(&server, &api_key, &url).await;
        let events = history_with(&server, &number, "media_fetch_failed").await;
        let failed = events.iter().find(|e| e["type"] == "media_fetch_failed").unwrap();
        assert_eq!(failed["data"]["url"], url.as_str());
        let reason = failed["data"]["reason"].as_str().unwrap();
        assert!(reason.contains(why), "{path}: {reason}");
        assert!(!events.iter().any(|e| e["type"] == "attachment_added"), "{path}");
        let one = get(&server, &format!("requests/{number}.json")).await;
        assert_eq!(one.status, StatusCode::OK, "{path}: {}", one.text);
        assert_eq!(one.json()[0]["status"], "open");
    }
    // Nothing half-stored: no file in the store, none left in the spool.
    let dir = &server.state.config.attachments_dir;
    let left: Vec<_> = [dir.clone(), dir.with_extension("spool")]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten().map(|e| e.path()))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    server.stop().await;
}
