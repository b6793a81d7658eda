//! Kannel's HTTP send interface: smsbox `GET /cgi-bin/sendsms?username=…&password=…&to=…
//! &text=…&charset=UTF-8&coding=2&dlr-mask=…&dlr-url=…`.
//!
//! Chinese goes as UCS-2 (`coding=2`); Kannel splits a long text into concatenated parts
//! (`concatenation = true` in its smsbox/SMSC set-up) that the phone joins back. The
//! delivery-report URL carries our outbox id, so each report finds its row; Kannel fills in
//! `%d` (1 delivered, 2 failed, 4 buffered, 8 accepted by the SMSC, 16 rejected by the SMSC).
//!
//! Kannel's answers: 202 `0: Accepted for delivery` / `3: Queued for later delivery` (taken);
//! 4xx (a missing or bad parameter: permanent; 403 bad credentials: counted refusals, since an
//! admin fixes the password and then every queued text should go); 503 and connection errors
//! (bearerbox down, queue full: retried).

use std::time::Duration;

use super::{SendFuture, SmsSendError, SmsTransport, Submission};

/// The gateway's settings, from `Config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KannelConfig {
    /// `http://127.0.0.1:13013/cgi-bin/sendsms`. `None`: texts stay queued.
    pub sendsms_url: Option<String>,
    pub username: String,
    pub password: String,
    /// The short code texts come from.
    pub sender: String,
    /// Our delivery-report endpoint with its token; `&id=…&type=%d` is added per text.
    pub dlr_url: Option<String>,
    pub timeout: Duration,
}

/// Kannel's sendsms client.
#[derive(Clone)]
pub struct Kannel {
    config: KannelConfig,
    http: reqwest::Client,
}

/// Every delivery report: delivered, failed, buffered, SMSC accepted, SMSC rejected.
const DLR_MASK: &str = "31";

impl Kannel {
    pub fn new(config: KannelConfig) -> Kannel {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()
            .expect("an HTTP client with timeouts builds");
        Kannel { config, http }
    }

    pub fn is_enabled(&self) -> bool {
        self.config.sendsms_url.is_some()
    }

    fn url(&self, text: &Submission) -> Result<reqwest::Url, SmsSendError> {
        let base =
            self.config.sendsms_url.as_deref().ok_or_else(|| SmsSendError::Unavailable("no sms_gateway_url".into()))?;
        let id = text.id.to_string();
        let dlr = self.config.dlr_url.as_ref().map(|u| format!("{u}&id={id}&type=%d"));
        let mut params: Vec<(&str, &str)> = vec![
            ("username", self.config.username.as_str()),
            ("password", self.config.password.as_str()),
            ("from", self.config.sender.as_str()),
            ("to", text.to),
            ("text", text.body),
            ("charset", "UTF-8"),
            ("coding", "2"),
        ];
        if let Some(dlr) = dlr.as_deref() {
            params.push(("dlr-mask", DLR_MASK));
            params.push(("dlr-url", dlr));
        }
        reqwest::Url::parse_with_params(base, &params).map_err(|e| SmsSendError::Permanent(format!("sendsms URL: {e}")))
    }
}

impl SmsTransport for Kannel {
    fn send<'a>(&'a self, text: Submission<'a>) -> SendFuture<'a> {
        Box::pin(async move {
            let url = self.url(&text)?;
            let response =
                self.http.get(url).send().await.map_err(|e| SmsSendError::Unavailable(e.without_url().to_string()))?;
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            let said = format!("{} {}", status.as_u16(), body.trim());
            match status.as_u16() {
                200..=299 => Ok(()),
                403 => Err(SmsSendError::Deferred(said)),
                400..=499 => Err(SmsSendError::Permanent(said)),
                _ => Err(SmsSendError::Unavailable(said)),
            }
        })
    }

    fn describe(&self) -> String {
        self.config.sendsms_url.clone().unwrap_or_else(|| "(none)".into())
    }

    fn timeout(&self) -> Duration {
        self.config.timeout
    }
}
