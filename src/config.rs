//! The server's configuration: one struct, loaded once, validated at start-up.
//!
//! Sources, later ones winning: built-in defaults, a TOML file (`--config FILE` or
//! `HOTLINE_CONFIG`), environment variables (`HOTLINE_*`, and `DATABASE_URL`), and the
//! command-line flags of `hotline serve`. Every problem names the key and how to fix it.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `HOTLINE_ADDR`: where the HTTP server listens.
    pub addr: String,
    /// `DATABASE_URL`: `sqlite://data/hotline.db` (default) or `postgres://user@host/db`.
    pub database_url: String,
    /// `HOTLINE_DB_MAX_CONNECTIONS`: the database pool's bound.
    pub db_max_connections: u32,
    /// `HOTLINE_RULES_DIR`: departments, regions, categories, rules, SLA policies, calendar.
    pub rules_dir: PathBuf,
    /// `HOTLINE_TOKEN_TTL_HOURS`: how long a login lasts.
    pub token_ttl_hours: i64,
    /// `HOTLINE_BODY_LIMIT_BYTES`: larger request bodies get 413.
    pub body_limit_bytes: usize,
    /// `HOTLINE_REQUEST_TIMEOUT_SECS`: a request taking longer is answered 503.
    pub request_timeout_secs: u64,
    /// `HOTLINE_LOG_FORMAT`: `text` or `json`.
    pub log_format: String,
    /// `HOTLINE_DEMO_TICKETS`: how many generated tickets `--demo` adds.
    pub demo_tickets: usize,
    /// `HOTLINE_SMTP_URL`: `smtp://host:25`, `smtp://user:pass@host:587?tls=starttls` or
    /// `smtps://user:pass@host:465`. Unset: mail is queued in the outbox but not sent.
    pub smtp_url: Option<String>,
    /// `HOTLINE_MAIL_FROM`: the sender of every notice.
    pub mail_from: String,
    /// `HOTLINE_PUBLIC_URL`: where people open the web front end; links in mail point here.
    pub public_base_url: String,
    /// `HOTLINE_SUPERVISORS_EMAIL`: comma-separated addresses of the supervisors (督办), who
    /// get overdue notices and the weekly summary.
    pub supervisors_email: String,
    /// `HOTLINE_DIGEST_CRON`: when departments get their daily digest of near-due and overdue
    /// tickets (sec min hour day month weekday, Beijing time); only on working days.
    pub digest_cron: String,
    /// `HOTLINE_WEEKLY_SUMMARY_CRON`: when supervisors get the weekly summary.
    pub weekly_summary_cron: String,
    /// `HOTLINE_MONTHLY_ASSESSMENT_CRON`: when supervisors get last month's ranking (考评) with
    /// the CSV attached.
    pub monthly_assessment_cron: String,
    /// `HOTLINE_KB_EXPIRY_CRON`: when each department is mailed its knowledge-base articles
    /// past their validity or ending soon (知识库到期提醒); working days only.
    pub kb_expiry_cron: String,
    /// `HOTLINE_SUGGEST_TRAIN_CRON`: when the intake-assistance model (智能辅助填单) is
    /// trained again from the centre's tickets (once across instances).
    pub suggest_train_cron: String,
    /// `HOTLINE_KB_EXPIRY_DAYS`: how many days ahead an article's end puts it in that mail.
    pub kb_expiry_days: i64,
    /// `HOTLINE_LIVE_BUFFER`: events queued per websocket client before it is told to resync.
    pub live_buffer: usize,
    /// `HOTLINE_ASSESSMENT_WEIGHTS`: response / resolution / satisfaction weights of the
    /// monthly score (考评), e.g. `30/35/35`.
    pub assessment_weights: String,
    /// `HOTLINE_LOGIN_MAX_FAILURES`: failed logins of one username within the lockout window
    /// that lock it out.
    pub login_max_failures: i64,
    /// `HOTLINE_LOGIN_MAX_FAILURES_PER_ADDRESS`: failed logins from one client address within
    /// the window that lock the address out.
    pub login_max_failures_per_address: i64,
    /// `HOTLINE_LOGIN_LOCKOUT_MINUTES`: the window failures are counted in; a lockout lasts
    /// until enough of them are older than this.
    pub login_lockout_minutes: i64,
    /// `HOTLINE_CLIENT_IP_HEADER`: behind a load balancer, the header carrying the client's
    /// address (`x-forwarded-for`: its last entry, the one the balancer added). Unset: the
    /// connection's peer address.
    pub client_ip_header: Option<String>,
    /// `HOTLINE_METRICS_TOKEN`: if set, `/metrics` wants `Authorization: Bearer TOKEN`.
    pub metrics_token: Option<String>,
    /// `HOTLINE_PUBLIC_SUBMIT_PER_HOUR`: requests one client address may submit through the
    /// public form (网上诉求) per hour; more get 429.
    pub public_submit_per_hour: u32,
    /// `HOTLINE_PUBLIC_TRACK_PER_HOUR`: tracking lookups one client address may make per hour
    /// (it also bounds guessing the last four digits).
    pub public_track_per_hour: u32,
    /// `HOTLINE_OPEN311_JURISDICTION`: the `jurisdiction_id` the Open311 façade answers for; a
    /// request naming another gets 404.
    pub open311_jurisdiction_id: String,
    /// `HOTLINE_OPEN311_REQUESTS_PER_HOUR`: requests one partner's api_key may file per hour
    /// through Open311; more get 429.
    pub open311_requests_per_hour: u32,
    /// `HOTLINE_OPEN311_MEDIA_ALLOW_PRIVATE`: fetch a partner's `media_url` even when its host
    /// is on this machine or a private network (loopback, 10/8, 172.16/12, 192.168/16,
    /// link-local, fc00::/7 …). Off by default: a stranger's address must not reach inside.
    pub open311_media_allow_private: bool,
    /// `HOTLINE_OPEN311_MEDIA_TIMEOUT_SECS`: how long fetching a `media_url` may take, all of it.
    pub open311_media_timeout_secs: u64,
    /// `MEILI_URL`: a Meilisearch server (`http://127.0.0.1:7700`) holding the search index.
    /// Unset: the embedded index in the ticket database.
    pub meili_url: Option<String>,
    /// `MEILI_KEY`: its API key (an admin key: the server creates the index and its settings).
    pub meili_key: Option<String>,
    /// `HOTLINE_MEILI_INDEX`: the index name, so several centres can share one server.
    pub meili_index: String,
    /// `HOTLINE_SIMILAR_WINDOW_DAYS`: how far back the duplicate finder looks for open tickets.
    pub similar_window_days: i64,
    /// `HOTLINE_CTI_PBX_TOKENS`: the telephone systems allowed to post call events
    /// (`POST /api/v1/cti/events`), as `name=token` pairs separated by commas
    /// (`main=3f9c…,backup=77ad…`); each token at least 16 characters. Unset: call events are refused.
    pub cti_pbx_tokens: Option<String>,
    /// `HOTLINE_CTI_WRAP_UP_SECS`: how long a seat stays in 话后处理 (wrap-up) after a call
    /// before it is idle again by itself; also what average handling time adds to talk time.
    pub cti_wrap_up_secs: i64,
    /// `HOTLINE_ATTACHMENTS_DIR`: where attachments (附件) are kept on the local disk when no
    /// S3 bucket is configured.
    pub attachments_dir: PathBuf,
    /// `HOTLINE_ATTACHMENT_MAX_BYTES`: the largest file accepted (413 above it).
    pub attachment_max_bytes: u64,
    /// `HOTLINE_ATTACHMENTS_PER_TICKET`: how many files one ticket may carry (422 above it).
    pub attachments_per_ticket: usize,
    /// `HOTLINE_ATTACHMENTS_REQUEST_MAX_BYTES`: the most one upload request may carry in all.
    pub attachments_request_max_bytes: u64,
    /// `HOTLINE_ATTACHMENT_MAX_IMAGE_PIXELS`: width × height an image may declare; larger
    /// ones are refused before decoding (a "zip bomb" image).
    pub attachment_max_image_pixels: u64,
    /// `HOTLINE_ATTACHMENT_ORPHAN_HOURS`: a stored file no event names (an upload whose
    /// request failed after storing it) is removed by the cleanup job after this long.
    pub attachment_orphan_hours: i64,
    /// `HOTLINE_S3_ENDPOINT`: an S3-compatible object store (`https://s3.example.gov.cn`,
    /// MinIO, Ceph…). With `s3_bucket` set, attachments go there instead of the local disk,
    /// so every instance sees them.
    pub s3_endpoint: Option<String>,
    /// `HOTLINE_S3_BUCKET`: the bucket; it must exist.
    pub s3_bucket: Option<String>,
    /// `HOTLINE_S3_REGION`: the region the store expects in signatures.
    pub s3_region: String,
    /// `HOTLINE_S3_ACCESS_KEY_ID`, `HOTLINE_S3_SECRET_ACCESS_KEY`: the credentials.
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<String>,
    /// `HOTLINE_S3_ALLOW_HTTP`: allow a plain-http endpoint (a store on the same host or
    /// network only).
    pub s3_allow_http: bool,
    /// `HOTLINE_SMS_GATEWAY_URL`: the SMS gateway's send interface; for Kannel its smsbox
    /// `http://127.0.0.1:13013/cgi-bin/sendsms`. Unset: texts are queued but not sent.
    pub sms_gateway_url: Option<String>,
    /// `HOTLINE_SMS_GATEWAY_USER`: the smsbox `sendsms-user` username.
    pub sms_gateway_user: String,
    /// `HOTLINE_SMS_GATEWAY_PASSWORD`: its password.
    pub sms_gateway_password: String,
    /// `HOTLINE_SMS_SENDER`: the number texts come from (the centre's short code, e.g. 12345).
    pub sms_sender: String,
    /// `HOTLINE_SMS_CALLBACK_TOKEN`: what the gateway must present on replies and delivery
    /// reports (`/api/v1/sms/kannel/…?token=…`), at least 16 characters. Unset: both are refused.
    pub sms_callback_token: Option<String>,
    /// `HOTLINE_SMS_CALLBACK_URL`: where the gateway reaches this server for delivery reports
    /// (the dlr-url's base); defaults to `public_base_url`.
    pub sms_callback_url: Option<String>,
    /// `HOTLINE_SMS_QUIET_HOURS`: when no text but urgent alerts goes, Beijing time, `21:00-08:00`;
    /// `off` for none.
    pub sms_quiet_hours: String,
    /// `HOTLINE_SMS_DAILY_LIMIT`: texts one number gets per day at most (urgent alerts aside);
    /// more wait for the next day.
    pub sms_daily_limit: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: "127.0.0.1:8080".into(),
            database_url: "sqlite://data/hotline.db".into(),
            db_max_connections: 10,
            rules_dir: PathBuf::from("dispatch_rules"),
            token_ttl_hours: 12,
            body_limit_bytes: 64 * 1024,
            request_timeout_secs: 30,
            log_format: "text".into(),
            demo_tickets: 300,
            smtp_url: None,
            mail_from: "12345热线 <noreply@hotline.localhost>".into(),
            public_base_url: "http://127.0.0.1:8080".into(),
            supervisors_email: "duban@haichuan.example.gov.cn".into(),
            digest_cron: "0 30 8 * * *".into(),
            weekly_summary_cron: "0 0 9 * * Mon".into(),
            monthly_assessment_cron: "0 0 9 1 * *".into(),
            kb_expiry_cron: "0 0 8 * * *".into(),
            kb_expiry_days: 7,
            suggest_train_cron: "0 15 3 * * *".into(),
            live_buffer: 1024,
            assessment_weights: "30/35/35".into(),
            login_max_failures: 5,
            login_max_failures_per_address: 50,
            login_lockout_minutes: 15,
            client_ip_header: None,
            metrics_token: None,
            public_submit_per_hour: 10,
            public_track_per_hour: 60,
            open311_jurisdiction_id: "12345".into(),
            open311_requests_per_hour: 600,
            open311_media_allow_private: false,
            open311_media_timeout_secs: 30,
            meili_url: None,
            meili_key: None,
            meili_index: "tickets".into(),
            similar_window_days: 30,
            cti_pbx_tokens: None,
            cti_wrap_up_secs: 30,
            attachments_dir: PathBuf::from("data/attachments"),
            attachment_max_bytes: 20 * 1024 * 1024,
            attachments_per_ticket: 20,
            attachments_request_max_bytes: 60 * 1024 * 1024,
            attachment_max_image_pixels: 50_000_000,
            attachment_orphan_hours: 24,
            s3_endpoint: None,
            s3_bucket: None,
            s3_region: "us-east-1".into(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_allow_http: false,
            sms_gateway_url: None,
            sms_gateway_user: "hotline".into(),
            sms_gateway_password: String::new(),
            sms_sender: "12345".into(),
            sms_callback_token: None,
            sms_callback_url: None,
            sms_quiet_hours: "21:00-08:00".into(),
            sms_daily_limit: 5,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("configuration: {key}: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

fn err(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError { key: key.to_string(), message: message.into() }
}

/// (key, environment variable) pairs, in one place so docs and loader agree.
pub const ENV_KEYS: &[(&str, &str)] = &[
    ("addr", "HOTLINE_ADDR"),
    ("database_url", "DATABASE_URL"),
    ("db_max_connections", "HOTLINE_DB_MAX_CONNECTIONS"),
    ("rules_dir", "HOTLINE_RULES_DIR"),
    ("token_ttl_hours", "HOTLINE_TOKEN_TTL_HOURS"),
    ("body_limit_bytes", "HOTLINE_BODY_LIMIT_BYTES"),
    ("request_timeout_secs", "HOTLINE_REQUEST_TIMEOUT_SECS"),
    ("log_format", "HOTLINE_LOG_FORMAT"),
    ("demo_tickets", "HOTLINE_DEMO_TICKETS"),
    ("smtp_url", "HOTLINE_SMTP_URL"),
    ("mail_from", "HOTLINE_MAIL_FROM"),
    ("public_base_url", "HOTLINE_PUBLIC_URL"),
    ("supervisors_email", "HOTLINE_SUPERVISORS_EMAIL"),
    ("digest_cron", "HOTLINE_DIGEST_CRON"),
    ("weekly_summary_cron", "HOTLINE_WEEKLY_SUMMARY_CRON"),
    ("monthly_assessment_cron", "HOTLINE_MONTHLY_ASSESSMENT_CRON"),
    ("kb_expiry_cron", "HOTLINE_KB_EXPIRY_CRON"),
    ("kb_expiry_days", "HOTLINE_KB_EXPIRY_DAYS"),
    ("suggest_train_cron", "HOTLINE_SUGGEST_TRAIN_CRON"),
    ("live_buffer", "HOTLINE_LIVE_BUFFER"),
    ("assessment_weights", "HOTLINE_ASSESSMENT_WEIGHTS"),
    ("login_max_failures", "HOTLINE_LOGIN_MAX_FAILURES"),
    ("login_max_failures_per_address", "HOTLINE_LOGIN_MAX_FAILURES_PER_ADDRESS"),
    ("login_lockout_minutes", "HOTLINE_LOGIN_LOCKOUT_MINUTES"),
    ("client_ip_header", "HOTLINE_CLIENT_IP_HEADER"),
    ("metrics_token", "HOTLINE_METRICS_TOKEN"),
    ("public_submit_per_hour", "HOTLINE_PUBLIC_SUBMIT_PER_HOUR"),
    ("public_track_per_hour", "HOTLINE_PUBLIC_TRACK_PER_HOUR"),
    ("open311_jurisdiction_id", "HOTLINE_OPEN311_JURISDICTION"),
    ("open311_requests_per_hour", "HOTLINE_OPEN311_REQUESTS_PER_HOUR"),
    ("open311_media_allow_private", "HOTLINE_OPEN311_MEDIA_ALLOW_PRIVATE"),
    ("open311_media_timeout_secs", "HOTLINE_OPEN311_MEDIA_TIMEOUT_SECS"),
    ("meili_url", "MEILI_URL"),
    ("meili_key", "MEILI_KEY"),
    ("meili_index", "HOTLINE_MEILI_INDEX"),
    ("similar_window_days", "HOTLINE_SIMILAR_WINDOW_DAYS"),
    ("cti_pbx_tokens", "HOTLINE_CTI_PBX_TOKENS"),
    ("cti_wrap_up_secs", "HOTLINE_CTI_WRAP_UP_SECS"),
    ("attachments_dir", "HOTLINE_ATTACHMENTS_DIR"),
    ("attachment_max_bytes", "HOTLINE_ATTACHMENT_MAX_BYTES"),
    ("attachments_per_ticket", "HOTLINE_ATTACHMENTS_PER_TICKET"),
    ("attachments_request_max_bytes", "HOTLINE_ATTACHMENTS_REQUEST_MAX_BYTES"),
    ("attachment_max_image_pixels", "HOTLINE_ATTACHMENT_MAX_IMAGE_PIXELS"),
    ("attachment_orphan_hours", "HOTLINE_ATTACHMENT_ORPHAN_HOURS"),
    ("s3_endpoint", "HOTLINE_S3_ENDPOINT"),
    ("s3_bucket", "HOTLINE_S3_BUCKET"),
    ("s3_region", "HOTLINE_S3_REGION"),
    ("s3_access_key_id", "HOTLINE_S3_ACCESS_KEY_ID"),
    ("s3_secret_access_key", "HOTLINE_S3_SECRET_ACCESS_KEY"),
    ("s3_allow_http", "HOTLINE_S3_ALLOW_HTTP"),
    ("sms_gateway_url", "HOTLINE_SMS_GATEWAY_URL"),
    ("sms_gateway_user", "HOTLINE_SMS_GATEWAY_USER"),
    ("sms_gateway_password", "HOTLINE_SMS_GATEWAY_PASSWORD"),
    ("sms_sender", "HOTLINE_SMS_SENDER"),
    ("sms_callback_token", "HOTLINE_SMS_CALLBACK_TOKEN"),
    ("sms_callback_url", "HOTLINE_SMS_CALLBACK_URL"),
    ("sms_quiet_hours", "HOTLINE_SMS_QUIET_HOURS"),
    ("sms_daily_limit", "HOTLINE_SMS_DAILY_LIMIT"),
];

impl Config {
    /// Defaults, then the file, then the environment (`env` is passed in so tests need not
    /// touch the process environment).
    pub fn load(file: Option<&std::path::Path>, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let file = file.map(PathBuf::from).or_else(|| env("HOTLINE_CONFIG").map(PathBuf::from));
        let mut config = match &file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| err("config", format!("cannot read {}: {e}", path.display())))?;
                toml::from_str(&text).map_err(|e| {
                    let d = crate::domain::diagnostic::Diagnostic::from_toml(&path.display().to_string(), &text, &e);
                    err("config", d.to_string())
                })?
            }
            None => Config::default(),
        };
        for (key, var) in ENV_KEYS {
            if let Some(value) = env(var).filter(|v| !v.trim().is_empty()) {
                config.set(key, var, value.trim())?;
            }
        }
        Ok(config)
    }

    fn set(&mut self, key: &str, var: &str, value: &str) -> Result<(), ConfigError> {
        fn number<T: std::str::FromStr>(key: &str, var: &str, value: &str) -> Result<T, ConfigError> {
            value.parse().map_err(|_| err(key, format!("{var}={value:?} is not a whole number")))
        }
        fn boolean(key: &str, var: &str, value: &str) -> Result<bool, ConfigError> {
            match value {
                "1" | "true" | "yes" => Ok(true),
                "0" | "false" | "no" => Ok(false),
                _ => Err(err(key, format!("{var}={value:?} is not true or false"))),
            }
        }
        match key {
            "addr" => self.addr = value.into(),
            "database_url" => self.database_url = value.into(),
            "db_max_connections" => self.db_max_connections = number(key, var, value)?,
            "rules_dir" => self.rules_dir = value.into(),
            "token_ttl_hours" => self.token_ttl_hours = number(key, var, value)?,
            "body_limit_bytes" => self.body_limit_bytes = number(key, var, value)?,
            "request_timeout_secs" => self.request_timeout_secs = number(key, var, value)?,
            "log_format" => self.log_format = value.into(),
            "demo_tickets" => self.demo_tickets = number(key, var, value)?,
            "smtp_url" => self.smtp_url = Some(value.into()),
            "mail_from" => self.mail_from = value.into(),
            "public_base_url" => self.public_base_url = value.into(),
            "supervisors_email" => self.supervisors_email = value.into(),
            "digest_cron" => self.digest_cron = value.into(),
            "weekly_summary_cron" => self.weekly_summary_cron = value.into(),
            "monthly_assessment_cron" => self.monthly_assessment_cron = value.into(),
            "kb_expiry_cron" => self.kb_expiry_cron = value.into(),
            "kb_expiry_days" => self.kb_expiry_days = number(key, var, value)?,
            "suggest_train_cron" => self.suggest_train_cron = value.into(),
            "live_buffer" => self.live_buffer = number(key, var, value)?,
            "assessment_weights" => self.assessment_weights = value.into(),
            "login_max_failures" => self.login_max_failures = number(key, var, value)?,
            "login_max_failures_per_address" => self.login_max_failures_per_address = number(key, var, value)?,
            "login_lockout_minutes" => self.login_lockout_minutes = number(key, var, value)?,
            "client_ip_header" => self.client_ip_header = Some(value.to_ascii_lowercase()),
            "metrics_token" => self.metrics_token = Some(value.into()),
            "public_submit_per_hour" => self.public_submit_per_hour = number(key, var, value)?,
            "public_track_per_hour" => self.public_track_per_hour = number(key, var, value)?,
            "open311_jurisdiction_id" => self.open311_jurisdiction_id = value.trim().into(),
            "open311_requests_per_hour" => self.open311_requests_per_hour = number(key, var, value)?,
            "open311_media_allow_private" => self.open311_media_allow_private = boolean(key, var, value)?,
            "open311_media_timeout_secs" => self.open311_media_timeout_secs = number(key, var, value)?,
            "meili_url" => self.meili_url = Some(value.into()),
            "meili_key" => self.meili_key = Some(value.into()),
            "meili_index" => self.meili_index = value.into(),
            "similar_window_days" => self.similar_window_days = number(key, var, value)?,
            "cti_pbx_tokens" => self.cti_pbx_tokens = Some(value.into()),
            "cti_wrap_up_secs" => self.cti_wrap_up_secs = number(key, var, value)?,
            "attachments_dir" => self.attachments_dir = value.into(),
            "attachment_max_bytes" => self.attachment_max_bytes = number(key, var, value)?,
            "attachments_per_ticket" => self.attachments_per_ticket = number(key, var, value)?,
            "attachments_request_max_bytes" => self.attachments_request_max_bytes = number(key, var, value)?,
            "attachment_max_image_pixels" => self.attachment_max_image_pixels = number(key, var, value)?,
            "attachment_orphan_hours" => self.attachment_orphan_hours = number(key, var, value)?,
            "s3_endpoint" => self.s3_endpoint = Some(value.into()),
            "s3_bucket" => self.s3_bucket = Some(value.into()),
            "s3_region" => self.s3_region = value.into(),
            "s3_access_key_id" => self.s3_access_key_id = Some(value.into()),
            "s3_secret_access_key" => self.s3_secret_access_key = Some(value.into()),
            "s3_allow_http" => self.s3_allow_http = boolean(key, var, value)?,
            "sms_gateway_url" => self.sms_gateway_url = Some(value.into()),
            "sms_gateway_user" => self.sms_gateway_user = value.into(),
            "sms_gateway_password" => self.sms_gateway_password = value.into(),
            "sms_sender" => self.sms_sender = value.into(),
            "sms_callback_token" => self.sms_callback_token = Some(value.into()),
            "sms_callback_url" => self.sms_callback_url = Some(value.into()),
            "sms_quiet_hours" => self.sms_quiet_hours = value.into(),
            "sms_daily_limit" => self.sms_daily_limit = number(key, var, value)?,
            _ => unreachable!("ENV_KEYS names only known keys"),
        }
        Ok(())
    }

    /// The telephone systems (PBX name, token) allowed to post call events.
    pub fn pbx_tokens(&self) -> Result<Vec<(String, String)>, ConfigError> {
        let Some(text) = self.cti_pbx_tokens.as_deref().filter(|t| !t.trim().is_empty()) else { return Ok(Vec::new()) };
        let mut pairs: Vec<(String, String)> = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((name, token)) = entry.split_once('=') else {
                return Err(err(
                    "cti_pbx_tokens",
                    "write name=token pairs separated by commas, e.g. main=0123456789abcdef (HOTLINE_CTI_PBX_TOKENS)",
                ));
            };
            let (name, token) = (name.trim(), token.trim());
            if name.is_empty()
                || name.len() > 32
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(err(
                    "cti_pbx_tokens",
                    format!("PBX name {name:?}: 1 to 32 letters, digits, - or _ (HOTLINE_CTI_PBX_TOKENS)"),
                ));
            }
            if token.len() < 16 || token.chars().any(|c| c.is_whitespace() || c == ',') {
                return Err(err("cti_pbx_tokens", format!("the token of PBX {name:?} must be at least 16 characters without spaces (HOTLINE_CTI_PBX_TOKENS)")));
            }
            if pairs.iter().any(|(n, t)| n == name || t == token) {
                return Err(err(
                    "cti_pbx_tokens",
                    format!("PBX {name:?} or its token is listed twice (HOTLINE_CTI_PBX_TOKENS)"),
                ));
            }
            pairs.push((name.to_string(), token.to_string()));
        }
        Ok(pairs)
    }

    /// Checks every key; the first problem found is returned with how to fix it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.socket_addr()?;
        crate::store::Backend::from_url(&self.database_url).map_err(|e| {
            err("database_url", format!("{e}; set DATABASE_URL, e.g. postgres://postgres@127.0.0.1/hotline"))
        })?;
        if self.db_max_connections == 0 || self.db_max_connections > 1000 {
            return Err(err("db_max_connections", "must be between 1 and 1000 (HOTLINE_DB_MAX_CONNECTIONS)"));
        }
        if !self.rules_dir.is_dir() {
            return Err(err(
                "rules_dir",
                format!(
                    "{} is not a directory; run from the project folder or set HOTLINE_RULES_DIR",
                    self.rules_dir.display()
                ),
            ));
        }
        if !(1..=24 * 90).contains(&self.token_ttl_hours) {
            return Err(err("token_ttl_hours", "must be between 1 and 2160 hours (HOTLINE_TOKEN_TTL_HOURS)"));
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.body_limit_bytes) {
            return Err(err("body_limit_bytes", "must be between 1024 and 16777216 (HOTLINE_BODY_LIMIT_BYTES)"));
        }
        if self.request_timeout_secs == 0 {
            return Err(err("request_timeout_secs", "must be at least 1 (HOTLINE_REQUEST_TIMEOUT_SECS)"));
        }
        for (key, var, expression) in [
            ("digest_cron", "HOTLINE_DIGEST_CRON", &self.digest_cron),
            ("weekly_summary_cron", "HOTLINE_WEEKLY_SUMMARY_CRON", &self.weekly_summary_cron),
            ("monthly_assessment_cron", "HOTLINE_MONTHLY_ASSESSMENT_CRON", &self.monthly_assessment_cron),
            ("kb_expiry_cron", "HOTLINE_KB_EXPIRY_CRON", &self.kb_expiry_cron),
            ("suggest_train_cron", "HOTLINE_SUGGEST_TRAIN_CRON", &self.suggest_train_cron),
        ] {
            expression.parse::<cron::Schedule>().map_err(|e| {
                err(key, format!("{expression:?} is not a cron expression ({e}); write sec min hour day month weekday, e.g. \"0 30 8 * * *\" ({var})"))
            })?;
        }
        if !self.public_base_url.starts_with("http://") && !self.public_base_url.starts_with("https://") {
            return Err(err("public_base_url", "must start with http:// or https:// (HOTLINE_PUBLIC_URL)"));
        }
        if !self.mail_from.contains('@') {
            return Err(err(
                "mail_from",
                "must be an address, e.g. \"12345热线 <noreply@example.gov.cn>\" (HOTLINE_MAIL_FROM)",
            ));
        }
        if let Some(bad) = self.supervisors().into_iter().find(|a| !a.contains('@')) {
            return Err(err("supervisors_email", format!("{bad:?} is not an address (HOTLINE_SUPERVISORS_EMAIL)")));
        }
        self.weights().map_err(|e| err("assessment_weights", format!("{e} (HOTLINE_ASSESSMENT_WEIGHTS)")))?;
        if !(1..=1_000_000).contains(&self.live_buffer) {
            return Err(err("live_buffer", "must be between 1 and 1000000 (HOTLINE_LIVE_BUFFER)"));
        }
        for (key, var, value) in [
            ("login_max_failures", "HOTLINE_LOGIN_MAX_FAILURES", self.login_max_failures),
            (
                "login_max_failures_per_address",
                "HOTLINE_LOGIN_MAX_FAILURES_PER_ADDRESS",
                self.login_max_failures_per_address,
            ),
            ("login_lockout_minutes", "HOTLINE_LOGIN_LOCKOUT_MINUTES", self.login_lockout_minutes),
        ] {
            if !(1..=100_000).contains(&value) {
                return Err(err(key, format!("must be between 1 and 100000 ({var})")));
            }
        }
        if let Some(h) = &self.client_ip_header {
            if axum::http::HeaderName::from_bytes(h.as_bytes()).is_err() {
                return Err(err(
                    "client_ip_header",
                    format!("{h:?} is not a header name, e.g. x-forwarded-for (HOTLINE_CLIENT_IP_HEADER)"),
                ));
            }
        }
        if self.metrics_token.as_ref().is_some_and(|t| t.len() < 16) {
            return Err(err("metrics_token", "must be at least 16 characters (HOTLINE_METRICS_TOKEN)"));
        }
        for (key, var, n) in [
            ("public_submit_per_hour", "HOTLINE_PUBLIC_SUBMIT_PER_HOUR", self.public_submit_per_hour),
            ("public_track_per_hour", "HOTLINE_PUBLIC_TRACK_PER_HOUR", self.public_track_per_hour),
            ("open311_requests_per_hour", "HOTLINE_OPEN311_REQUESTS_PER_HOUR", self.open311_requests_per_hour),
        ] {
            if !(1..=1_000_000).contains(&n) {
                return Err(err(key, format!("must be between 1 and 1000000 ({var})")));
            }
        }
        if self.open311_jurisdiction_id.is_empty() || self.open311_jurisdiction_id.chars().any(char::is_whitespace) {
            return Err(err(
                "open311_jurisdiction_id",
                "must be one word, e.g. 12345.example.gov.cn (HOTLINE_OPEN311_JURISDICTION)",
            ));
        }
        if !(1..=600).contains(&self.open311_media_timeout_secs) {
            return Err(err(
                "open311_media_timeout_secs",
                "must be between 1 and 600 seconds (HOTLINE_OPEN311_MEDIA_TIMEOUT_SECS)",
            ));
        }
        if let Some(url) = &self.meili_url {
            if !url.starts_with("http://") && !url.starts_with("https://") {
                return Err(err("meili_url", format!("{url:?} must start with http:// or https:// (MEILI_URL)")));
            }
        }
        let index_ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if self.meili_index.is_empty() || !self.meili_index.chars().all(index_ok) {
            return Err(err("meili_index", "letters, digits, - and _ only (HOTLINE_MEILI_INDEX)"));
        }
        if !(0..=365).contains(&self.kb_expiry_days) {
            return Err(err("kb_expiry_days", "must be between 0 and 365 days (HOTLINE_KB_EXPIRY_DAYS)"));
        }
        if !(1..=365).contains(&self.similar_window_days) {
            return Err(err("similar_window_days", "must be between 1 and 365 days (HOTLINE_SIMILAR_WINDOW_DAYS)"));
        }
        self.pbx_tokens()?;
        if !(0..=3600).contains(&self.cti_wrap_up_secs) {
            return Err(err("cti_wrap_up_secs", "must be between 0 and 3600 seconds (HOTLINE_CTI_WRAP_UP_SECS)"));
        }
        self.validate_attachments()?;
        self.sms_quiet()?;
        if let Some(url) = &self.sms_gateway_url {
            if !url.starts_with("http://") && !url.starts_with("https://") {
                return Err(err(
                    "sms_gateway_url",
                    format!("{url:?} must start with http:// or https://, e.g. http://127.0.0.1:13013/cgi-bin/sendsms (HOTLINE_SMS_GATEWAY_URL)"),
                ));
            }
            if self.sms_gateway_user.trim().is_empty() {
                return Err(err(
                    "sms_gateway_user",
                    "the gateway's sendsms username is required (HOTLINE_SMS_GATEWAY_USER)",
                ));
            }
        }
        if let Some(url) = &self.sms_callback_url {
            if !url.starts_with("http://") && !url.starts_with("https://") {
                return Err(err("sms_callback_url", "must start with http:// or https:// (HOTLINE_SMS_CALLBACK_URL)"));
            }
        }
        if self
            .sms_callback_token
            .as_ref()
            .is_some_and(|t| t.len() < 16 || !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        {
            return Err(err(
                "sms_callback_token",
                "at least 16 letters, digits, - or _ (it travels in a URL) (HOTLINE_SMS_CALLBACK_TOKEN)",
            ));
        }
        if self.sms_sender.is_empty()
            || self.sms_sender.len() > 20
            || !self.sms_sender.chars().all(|c| c.is_ascii_digit())
        {
            return Err(err(
                "sms_sender",
                "the short code texts come from: 1 to 20 digits, e.g. 12345 (HOTLINE_SMS_SENDER)",
            ));
        }
        if !(1..=100).contains(&self.sms_daily_limit) {
            return Err(err("sms_daily_limit", "must be between 1 and 100 (HOTLINE_SMS_DAILY_LIMIT)"));
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return Err(err("log_format", format!("{:?} is not text or json (HOTLINE_LOG_FORMAT)", self.log_format)));
        }
        Ok(())
    }

    fn validate_attachments(&self) -> Result<(), ConfigError> {
        if !(1024..=4 * 1024 * 1024 * 1024).contains(&self.attachment_max_bytes) {
            return Err(err(
                "attachment_max_bytes",
                "must be between 1024 and 4294967296 (HOTLINE_ATTACHMENT_MAX_BYTES)",
            ));
        }
        if !(1..=10_000).contains(&self.attachments_per_ticket) {
            return Err(err("attachments_per_ticket", "must be between 1 and 10000 (HOTLINE_ATTACHMENTS_PER_TICKET)"));
        }
        if self.attachments_request_max_bytes < self.attachment_max_bytes {
            return Err(err(
                "attachments_request_max_bytes",
                "must be at least attachment_max_bytes (HOTLINE_ATTACHMENTS_REQUEST_MAX_BYTES)",
            ));
        }
        if !(1..=1_000_000_000).contains(&self.attachment_max_image_pixels) {
            return Err(err(
                "attachment_max_image_pixels",
                "must be between 1 and 1000000000 (HOTLINE_ATTACHMENT_MAX_IMAGE_PIXELS)",
            ));
        }
        if !(1..=24 * 365).contains(&self.attachment_orphan_hours) {
            return Err(err("attachment_orphan_hours", "must be between 1 and 8760 (HOTLINE_ATTACHMENT_ORPHAN_HOURS)"));
        }
        match (&self.s3_bucket, &self.s3_endpoint) {
            (None, Some(_)) => {
                return Err(err("s3_bucket", "HOTLINE_S3_ENDPOINT is set: name the bucket too (HOTLINE_S3_BUCKET)"))
            }
            (Some(bucket), endpoint) => {
                if bucket.is_empty()
                    || bucket.len() > 63
                    || !bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
                {
                    return Err(err("s3_bucket", format!("{bucket:?} is not a bucket name: 3 to 63 lower-case letters, digits, - and . (HOTLINE_S3_BUCKET)")));
                }
                if let Some(url) = endpoint {
                    if url.starts_with("http://") && !self.s3_allow_http {
                        return Err(err("s3_allow_http", format!("{url} is plain http: set HOTLINE_S3_ALLOW_HTTP=true to allow it (only on a trusted network)")));
                    }
                    if !url.starts_with("http://") && !url.starts_with("https://") {
                        return Err(err(
                            "s3_endpoint",
                            format!("{url:?} must start with https:// or http:// (HOTLINE_S3_ENDPOINT)"),
                        ));
                    }
                }
                if self.s3_access_key_id.is_some() != self.s3_secret_access_key.is_some() {
                    return Err(err(
                        "s3_secret_access_key",
                        "set both HOTLINE_S3_ACCESS_KEY_ID and HOTLINE_S3_SECRET_ACCESS_KEY, or neither",
                    ));
                }
            }
            (None, None) => {}
        }
        Ok(())
    }

    /// The attachment limits the domain checks.
    pub fn attachment_limits(&self) -> crate::domain::attachments::Limits {
        crate::domain::attachments::Limits {
            max_file_bytes: self.attachment_max_bytes,
            max_files_per_ticket: self.attachments_per_ticket,
            max_request_bytes: self.attachments_request_max_bytes,
            max_image_pixels: self.attachment_max_image_pixels,
        }
    }

    /// How a partner's `media_url` is fetched.
    pub fn media_fetch(&self) -> crate::media_url::FetchPolicy {
        crate::media_url::FetchPolicy {
            allow_private: self.open311_media_allow_private,
            timeout: std::time::Duration::from_secs(self.open311_media_timeout_secs),
            limits: self.attachment_limits(),
        }
    }

    /// The quiet hours for texts (`21:00-08:00`, or `off`).
    pub fn sms_quiet(&self) -> Result<crate::domain::sms::QuietHours, ConfigError> {
        let value = self.sms_quiet_hours.trim();
        let bad = || {
            err(
                "sms_quiet_hours",
                format!("{value:?} is not a time range like 21:00-08:00 (or off) (HOTLINE_SMS_QUIET_HOURS)"),
            )
        };
        if value.eq_ignore_ascii_case("off") {
            let midnight = chrono::NaiveTime::MIN;
            return Ok(crate::domain::sms::QuietHours { from: midnight, to: midnight });
        }
        let (from, to) = value.split_once('-').ok_or_else(bad)?;
        let time = |t: &str| chrono::NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| bad());
        let (from, to) = (time(from)?, time(to)?);
        if from == to {
            return Err(bad());
        }
        Ok(crate::domain::sms::QuietHours { from, to })
    }

    /// The SMS gateway's settings (Kannel).
    pub fn sms_gateway(&self) -> crate::notify::sms::KannelConfig {
        let callback_base = self.sms_callback_url.clone().unwrap_or_else(|| self.public_base_url.clone());
        crate::notify::sms::KannelConfig {
            sendsms_url: self.sms_gateway_url.clone(),
            username: self.sms_gateway_user.clone(),
            password: self.sms_gateway_password.clone(),
            sender: self.sms_sender.clone(),
            dlr_url: self
                .sms_callback_token
                .as_ref()
                .map(|token| format!("{}/api/v1/sms/kannel/dlr?token={token}", callback_base.trim_end_matches('/'))),
            timeout: std::time::Duration::from_secs(10),
        }
    }

    pub fn mail_config(&self) -> crate::notify::MailConfig {
        crate::notify::MailConfig {
            smtp_url: self.smtp_url.clone(),
            from: self.mail_from.clone(),
            ..crate::notify::MailConfig::default()
        }
    }

    pub fn login_limits(&self) -> crate::domain::accounts::LoginLimits {
        crate::domain::accounts::LoginLimits {
            per_username: self.login_max_failures,
            per_address: self.login_max_failures_per_address,
            window_minutes: self.login_lockout_minutes,
        }
    }

    /// The weights of the monthly score.
    pub fn weights(&self) -> Result<crate::domain::assessment::Weights, String> {
        self.assessment_weights.parse()
    }

    pub fn supervisors(&self) -> Vec<String> {
        self.supervisors_email.split(',').map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).collect()
    }

    pub fn socket_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.addr.parse().map_err(|_| {
            err("addr", format!("{:?} is not host:port, e.g. 127.0.0.1:8080 (HOTLINE_ADDR, --addr)", self.addr))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn pbx_tokens_are_name_token_pairs_checked_at_start() {
        let c = Config {
            cti_pbx_tokens: Some("main=0123456789abcdef, backup=fedcba9876543210".into()),
            ..Config::default()
        };
        assert_eq!(c.pbx_tokens().unwrap().len(), 2);
        for bad in ["main", "main=short", "m a=0123456789abcdef", "a=0123456789abcdef,a=0123456789abcdeX"] {
            let c = Config { cti_pbx_tokens: Some(bad.into()), ..Config::default() };
            assert_eq!(c.validate().unwrap_err().key, "cti_pbx_tokens", "{bad}");
        }
        assert_eq!(
            Config { cti_wrap_up_secs: -1, ..Config::default() }.validate().unwrap_err().key,
            "cti_wrap_up_secs"
        );
    }

    #[test]
    fn environment_overrides_defaults_and_bad_values_name_their_key() {
        let c = Config::load(None, env_of(&[("HOTLINE_ADDR", "0.0.0.0:9000"), ("DATABASE_URL", "postgres://x/y")]))
            .unwrap();
        assert_eq!(c.addr, "0.0.0.0:9000");
        assert_eq!(c.database_url, "postgres://x/y");
        let e = Config::load(None, env_of(&[("HOTLINE_TOKEN_TTL_HOURS", "soon")])).unwrap_err();
        assert_eq!(e.key, "token_ttl_hours");
        let bad = Config { addr: "localhost".into(), ..Config::default() };
        assert_eq!(bad.validate().unwrap_err().key, "addr");
        let bad = Config { database_url: "mysql://x".into(), ..Config::default() };
        assert_eq!(bad.validate().unwrap_err().key, "database_url");
        let bad = Config { digest_cron: "every morning".into(), ..Config::default() };
        assert_eq!(bad.validate().unwrap_err().key, "digest_cron");
        let bad = Config { assessment_weights: "30/35".into(), ..Config::default() };
        assert_eq!(bad.validate().unwrap_err().key, "assessment_weights");
        let bad = Config { kb_expiry_cron: "daily".into(), ..Config::default() };
        assert_eq!(bad.validate().unwrap_err().key, "kb_expiry_cron");
        let bad = Config { kb_expiry_days: -1, ..Config::default() };
        assert_eq!(bad.validate().unwrap_err().key, "kb_expiry_days");
        let bad = Config { public_submit_per_hour: 0, ..Config::default() };
        assert_eq!(bad.validate().unwrap_err().key, "public_submit_per_hour");
        let bad = Config { open311_media_timeout_secs: 0, ..Config::default() };
        assert_eq!(bad.validate().unwrap_err().key, "open311_media_timeout_secs");
        let e = Config::load(None, env_of(&[("HOTLINE_OPEN311_MEDIA_ALLOW_PRIVATE", "sometimes")])).unwrap_err();
        assert_eq!(e.key, "open311_media_allow_private");
        let c = Config::load(None, env_of(&[("HOTLINE_OPEN311_MEDIA_ALLOW_PRIVATE", "true")])).unwrap();
        assert!(c.open311_media_allow_private);
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused_with_their_line() {
        let dir = std::env::temp_dir().join(format!("hotline-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("hotline.toml");
        std::fs::write(&path, "addr = \"127.0.0.1:1\"\nlisten = 3\n").unwrap();
        let e = Config::load(Some(&path), |_| None).unwrap_err();
        assert!(e.message.contains(":2:"), "{e}");
    }
}
