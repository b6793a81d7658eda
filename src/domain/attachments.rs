//! 附件: files on tickets — residents' photos, departments' proof of work (现场照片).
//!
//! Rules kept here (no IO):
//! * limits come from configuration ([`Limits`]): size per file, files per ticket, bytes per
//!   request; a broken limit is named in the error (413 for sizes, 422 for the count);
//! * the type is judged from the content ([`judge_type`]), never from the name or the
//!   client's Content-Type: images (JPEG, PNG, WebP, GIF), PDF, office documents, audio;
//! * the file name is shown, never used as a path ([`clean_name`]); the storage key is made
//!   from the ticket id and a random id ([`storage_key`]);
//! * who may attach ([`decide_add`]): the centre (operators at intake and afterwards,
//!   dispatchers, supervisors), the lead department on its reply, return or extension
//!   request, an assisting department on its answer, the resident on the public form;
//! * who may see ([`visible`]): a department only on tickets assigned to it (else the ticket
//!   is not found at all), never the caller's own files when the caller is confidential; a
//!   resident only files marked public, and only after the number + last-4 check;
//! * each file is one `attachment_added` event in the ticket's history.

use super::event::EventKind;
use super::lifecycle::{Actor, DecisionError};
use super::ticket::Ticket;
use super::types::{Role, Status};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How long after submitting a resident may still add photos to their request.
pub const RESIDENT_WINDOW_HOURS: i64 = 24;
/// Longest file name kept for display (characters).
pub const MAX_NAME_CHARS: usize = 120;
/// How many bytes of a file's start [`judge_type`] needs to recognise every allowed type
/// (office documents are zip or OLE containers whose tell-tale entries come early).
pub const SNIFF_BYTES: usize = 64 * 1024;

/// The configured limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_file_bytes: u64,
    pub max_files_per_ticket: usize,
    pub max_request_bytes: u64,
    /// Width × height an image may declare before it is decoded (a "zip bomb" image is a
    /// small file declaring a huge canvas).
    pub max_image_pixels: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachmentError {
    /// A size limit was broken (413); `limit` is the configuration key.
    #[error("{message}")]
    TooLarge { limit: &'static str, message: String },
    /// The file itself is not acceptable (422), naming the field.
    #[error("{message}")]
    Rejected { field: &'static str, message: String },
}

impl Limits {
    /// Checked while the upload streams in, so a huge file is refused after `max + 1` bytes.
    pub fn check_file(&self, name: &str, bytes_so_far: u64) -> Result<(), AttachmentError> {
        if bytes_so_far > self.max_file_bytes {
            return Err(AttachmentError::TooLarge {
                limit: "attachment_max_bytes",
                message: format!(
                    "文件「{name}」超过单个附件大小上限 {} (attachment_max_bytes)",
                    human_size(self.max_file_bytes)
                ),
            });
        }
        Ok(())
    }

    pub fn check_request(&self, bytes_so_far: u64) -> Result<(), AttachmentError> {
        if bytes_so_far > self.max_request_bytes {
            return Err(AttachmentError::TooLarge {
                limit: "attachments_request_max_bytes",
                message: format!(
                    "本次上传的附件合计超过 {} (attachments_request_max_bytes)",
                    human_size(self.max_request_bytes)
                ),
            });
        }
        Ok(())
    }

    /// An image's declared size, read from its header before anything is decoded.
    pub fn check_dimensions(&self, name: &str, width: u32, height: u32) -> Result<(), AttachmentError> {
        let pixels = u64::from(width) * u64::from(height);
        if pixels > self.max_image_pixels || width == 0 || height == 0 {
            return Err(AttachmentError::Rejected {
                field: "file",
                message: format!(
                    "图片「{name}」声明的尺寸 {width}×{height} 超出上限 {} 像素 (attachment_max_image_pixels)，拒收",
                    self.max_image_pixels
                ),
            });
        }
        Ok(())
    }
}

fn human_size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    } else {
        format!("{} KB", bytes.div_ceil(1024))
    }
}

/// What a file is, judged from its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileClass {
    Image,
    Pdf,
    Document,
    Audio,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileType {
    pub mime: &'static str,
    pub extension: &'static str,
    pub class: FileClass,
}

/// Every type taken in: (MIME type as `infer` names it, extension, class).
const ALLOWED: &[(&str, &str, FileClass)] = &[
    ("image/jpeg", "jpg", FileClass::Image),
    ("image/png", "png", FileClass::Image),
    ("image/webp", "webp", FileClass::Image),
    ("image/gif", "gif", FileClass::Image),
    ("application/pdf", "pdf", FileClass::Pdf),
    ("application/msword", "doc", FileClass::Document),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx", FileClass::Document),
    ("application/vnd.ms-excel", "xls", FileClass::Document),
    ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx", FileClass::Document),
    ("application/vnd.ms-powerpoint", "ppt", FileClass::Document),
    ("application/vnd.openxmlformats-officedocument.presentationml.presentation", "pptx", FileClass::Document),
    ("application/vnd.oasis.opendocument.text", "odt", FileClass::Document),
    ("application/vnd.oasis.opendocument.spreadsheet", "ods", FileClass::Document),
    ("application/rtf", "rtf", FileClass::Document),
    ("audio/mpeg", "mp3", FileClass::Audio),
    ("audio/x-wav", "wav", FileClass::Audio),
    ("audio/ogg", "ogg", FileClass::Audio),
    ("audio/m4a", "m4a", FileClass::Audio),
    ("audio/aac", "aac", FileClass::Audio),
    ("audio/amr", "amr", FileClass::Audio),
    ("audio/x-flac", "flac", FileClass::Audio),
];

/// Judges a file's type from its first bytes (up to [`SNIFF_BYTES`]). The name and the
/// Content-Type the client sent play no part: a script renamed `photo.jpg` is refused.
pub fn judge_type(name: &str, head: &[u8]) -> Result<FileType, AttachmentError> {
    let found = infer::get(head);
    let allowed = found.and_then(|t| ALLOWED.iter().find(|(mime, _, _)| *mime == t.mime_type()));
    match allowed {
        Some(&(mime, extension, class)) => Ok(FileType { mime, extension, class }),
        None => Err(AttachmentError::Rejected {
            field: "file",
            message: format!(
                "文件「{name}」的内容是 {}，不在允许的类型之内：图片 (JPEG/PNG/WebP/GIF)、PDF、Office 文档、音频",
                found.map(|t| t.mime_type()).unwrap_or("未知类型")
            ),
        }),
    }
}

/// The name shown for a file: its last path component, without control characters, never
/// empty, at most [`MAX_NAME_CHARS`]. It is never used to find the file.
pub fn clean_name(raw: &str, extension: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.is_empty() {
        return format!("附件.{extension}");
    }
    if cleaned.chars().count() <= MAX_NAME_CHARS {
        return cleaned.to_string();
    }
    // Keep the end, where the extension is.
    let skip = cleaned.chars().count() - MAX_NAME_CHARS;
    cleaned.chars().skip(skip).collect()
}

/// Where a file is kept: made from the ticket id and a random id, never from the name.
pub fn storage_key(ticket_id: i64, attachment_id: &str) -> String {
    format!("tickets/{ticket_id}/{attachment_id}")
}

pub fn thumbnail_key(ticket_id: i64, attachment_id: &str) -> String {
    format!("tickets/{ticket_id}/{attachment_id}.thumb.jpg")
}

/// Why a file was added: which step of the work it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// The operator, while taking the call (受理).
    Intake,
    /// The centre afterwards (补充材料).
    Note,
    /// The resident on the public form (网上诉求).
    Public,
    /// The lead department's reply (办结回复, 现场照片).
    Reply,
    /// The lead department's return (退单).
    Return,
    /// The lead department's extension request (延期申请).
    Extension,
    /// An assisting department's answer (协办答复).
    Assist,
    /// A supervisor's review (督办).
    Supervision,
}

impl Purpose {
    pub fn parse(word: &str) -> Option<Purpose> {
        serde_json::from_value(serde_json::Value::String(word.to_string())).ok()
    }

    pub fn label(self) -> &'static str {
        match self {
            Purpose::Intake => "受理材料",
            Purpose::Note => "补充材料",
            Purpose::Public => "市民上传",
            Purpose::Reply => "办结回复",
            Purpose::Return => "退单材料",
            Purpose::Extension => "延期申请材料",
            Purpose::Assist => "协办答复",
            Purpose::Supervision => "督办材料",
        }
    }
}

/// Whose file it is: the caller's side (resident, or the operator taking the call), the
/// centre's, or a department's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Caller,
    Centre,
    Department,
}

/// One attachment as its event records it and the ticket lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attachment {
    /// Random, 32 hex digits: how the API names the file.
    pub id: String,
    /// The name given at upload, for display only.
    pub name: String,
    /// The stored file's type (images are re-encoded: a WebP or GIF is kept as PNG).
    pub content_type: String,
    pub class: FileClass,
    /// Bytes of the stored file.
    pub size: u64,
    /// SHA-256 of the stored file, hex.
    pub sha256: String,
    pub storage_key: String,
    /// A small JPEG for lists (images only).
    #[serde(default)]
    pub thumbnail_key: Option<String>,
    /// Shown to the resident when tracking the request.
    pub public: bool,
    pub purpose: Purpose,
    pub source: Source,
    /// The department that added it, for department files.
    #[serde(default)]
    pub department: Option<String>,
    pub added_by: String,
    pub added_at: DateTime<Utc>,
    #[serde(default)]
    pub width: Option<u32>,
    #[serde(default)]
    pub height: Option<u32>,
}

/// A file already stored, to be named by an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub id: String,
    pub name: String,
    pub content_type: String,
    pub class: FileClass,
    pub size: u64,
    pub sha256: String,
    pub storage_key: String,
    pub thumbnail_key: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// Who is adding files.
#[derive(Debug, Clone, Copy)]
pub enum Uploader<'a> {
    Staff(&'a Actor),
    /// A resident who passed the number + last-4 check.
    Resident,
}

/// What an upload asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub purpose: Option<Purpose>,
    pub public: Option<bool>,
}

fn forbidden(message: impl Into<String>) -> DecisionError {
    DecisionError::Forbidden(message.into())
}

/// Whether this uploader may add `count` files to the ticket now, and with which purpose,
/// source, department and public flag. Checked before anything is stored, and again in
/// the write transaction by [`decide_add`].
pub fn check_upload(
    t: &Ticket,
    uploader: Uploader,
    request: Request,
    count: usize,
    limits: &Limits,
    now: DateTime<Utc>,
) -> Result<(Purpose, Source, Option<String>, bool), DecisionError> {
    if count == 0 {
        return Err(DecisionError::Invalid {
            field: "file",
            message: "没有收到文件：请在 file 字段上传至少一个文件".into(),
        });
    }
    if t.status == Status::Merged {
        return Err(DecisionError::IllegalTransition {
            status: t.status,
            action: "attach",
            hint: "已并单的工单请在主工单上添加附件.".into(),
        });
    }
    if t.attachments.len() + count > limits.max_files_per_ticket {
        return Err(DecisionError::Invalid {
            field: "file",
            message: format!(
                "工单 {} 已有 {} 个附件，再加 {count} 个将超过每张工单 {} 个的上限 (attachments_per_ticket)",
                t.number,
                t.attachments.len(),
                limits.max_files_per_ticket
            ),
        });
    }
    let actor = match uploader {
        Uploader::Resident => {
            if request.purpose.is_some_and(|p| p != Purpose::Public) {
                return Err(DecisionError::Invalid {
                    field: "purpose", message: "市民只能上传 public 类附件".into()
                });
            }
            if !t.status.is_open() || now - t.created_at > chrono::Duration::hours(RESIDENT_WINDOW_HOURS) {
                return Err(forbidden(format!(
                    "诉求提交 {RESIDENT_WINDOW_HOURS} 小时内、办结之前才能补充照片；如需补充请致电 12345"
                )));
            }
            return Ok((Purpose::Public, Source::Caller, None, true));
        }
        Uploader::Staff(actor) => actor,
    };
    let public = request.public.unwrap_or(false);
    match actor.role {
        Role::Department => {
            let is_lead = t.lead.as_deref().is_some_and(|l| actor.covers(l));
            let assist = t.assists.iter().find(|a| actor.covers(&a.department));
            let purpose = request.purpose.unwrap_or(if is_lead { Purpose::Reply } else { Purpose::Assist });
            let department = match purpose {
                Purpose::Reply | Purpose::Return | Purpose::Extension if is_lead => t.lead.clone(),
                Purpose::Assist if assist.is_some() => assist.map(|a| a.department.clone()),
                Purpose::Reply | Purpose::Return | Purpose::Extension | Purpose::Assist => {
                    return Err(forbidden(format!(
                        "{} 不是工单 {} 的{}，不能上传「{}」附件",
                        actor.department.as_deref().unwrap_or(&actor.username),
                        t.number,
                        if purpose == Purpose::Assist { "协办单位" } else { "主办单位" },
                        purpose.label()
                    )))
                }
                other => {
                    return Err(DecisionError::Invalid {
                        field: "purpose",
                        message: format!(
                            "承办单位的附件用途只能是 reply、return、extension 或 assist，不能是 {}",
                            serde_json::to_value(other)
                                .ok()
                                .and_then(|v| v.as_str().map(String::from))
                                .unwrap_or_default()
                        ),
                    })
                }
            };
            if !matches!(t.status, Status::Dispatched | Status::Accepted | Status::Suspended) {
                return Err(DecisionError::IllegalTransition {
                    status: t.status,
                    action: "attach",
                    hint: "承办单位只能在办理期间 (已派单、已签收、挂起) 上传附件.".into(),
                });
            }
            Ok((purpose, Source::Department, department, public))
        }
        Role::Operator | Role::Dispatcher | Role::Supervisor | Role::Admin => {
            let default = if actor.role == Role::Supervisor {
                Purpose::Supervision
            } else if t.status == Status::Received {
                Purpose::Intake
            } else {
                Purpose::Note
            };
            let purpose = request.purpose.unwrap_or(default);
            let allowed: &[Purpose] = match actor.role {
                Role::Supervisor | Role::Admin => &[Purpose::Supervision, Purpose::Note, Purpose::Intake],
                _ => &[Purpose::Intake, Purpose::Note],
            };
            if !allowed.contains(&purpose) {
                return Err(DecisionError::Invalid {
                    field: "purpose",
                    message: format!("{} 上传的附件用途不能是「{}」", actor.role.as_str(), purpose.label()),
                });
            }
            // What the caller handed in at intake belongs to the caller: hidden from
            // departments when the caller is confidential.
            let source = if purpose == Purpose::Intake { Source::Caller } else { Source::Centre };
            Ok((purpose, source, None, public))
        }
    }
}

/// The `attachment_added` events naming files already stored, or why not.
pub fn decide_add(
    t: &Ticket,
    uploader: Uploader,
    request: Request,
    files: &[StoredFile],
    limits: &Limits,
    now: DateTime<Utc>,
) -> Result<Vec<EventKind>, DecisionError> {
    let (purpose, source, department, public) = check_upload(t, uploader, request, files.len(), limits, now)?;
    let added_by = match uploader {
        Uploader::Staff(a) => a.username.clone(),
        Uploader::Resident => super::public::RESIDENT_USERNAME.to_string(),
    };
    Ok(files
        .iter()
        .map(|f| {
            EventKind::AttachmentAdded(Attachment {
                id: f.id.clone(),
                name: f.name.clone(),
                content_type: f.content_type.clone(),
                class: f.class,
                size: f.size,
                sha256: f.sha256.clone(),
                storage_key: f.storage_key.clone(),
                thumbnail_key: f.thumbnail_key.clone(),
                public,
                purpose,
                source,
                department: department.clone(),
                added_by: added_by.clone(),
                added_at: now,
                width: f.width,
                height: f.height,
            })
        })
        .collect())
}

/// Who is looking.
#[derive(Debug, Clone, Copy)]
pub enum Viewer<'a> {
    /// A logged-in user who may see the ticket ([`Actor::can_see`] is checked by the store).
    Staff(&'a Actor),
    /// A resident who passed the number + last-4 check.
    Resident,
}

/// Whether this viewer may list and download this file of a ticket they may see.
pub fn visible(t: &Ticket, a: &Attachment, viewer: Viewer) -> bool {
    match viewer {
        Viewer::Resident => a.public,
        Viewer::Staff(actor) if actor.is_department() => {
            actor.can_see(t) && (!t.confidential || a.source == Source::Department)
        }
        Viewer::Staff(_) => true,
    }
}

/// The ticket's files this viewer may see, oldest first.
pub fn visible_list<'a>(t: &'a Ticket, viewer: Viewer<'a>) -> impl Iterator<Item = &'a Attachment> + 'a {
    t.attachments.iter().filter(move |a| visible(t, a, viewer))
}

/// The lead's reply needs a photo when its category says so (`photo_required` in the
/// categories): an image the lead department added since it accepted the ticket.
pub fn has_reply_photo(t: &Ticket, lead: &str) -> bool {
    t.attachments.iter().any(|a| {
        a.class == FileClass::Image
            && a.source == Source::Department
            && a.department.as_deref() == Some(lead)
            && t.accepted_at.is_none_or(|accepted| a.added_at >= accepted)
    })
}

/// `Content-Disposition` for a download: an ASCII fallback and the real name in RFC 5987
/// form (`filename*=UTF-8''…`), so 中文 names survive every browser.
pub fn content_disposition(name: &str, inline: bool) -> String {
    const ATTR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    let fallback: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' }).collect();
    let encoded = percent_encoding::utf8_percent_encode(name, ATTR);
    let kind = if inline { "inline" } else { "attachment" };
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::test_support::ticket_in;

    const LIMITS: Limits =
        Limits { max_file_bytes: 1000, max_files_per_ticket: 3, max_request_bytes: 1500, max_image_pixels: 100 };

    fn actor(role: Role, dept: Option<&str>) -> Actor {
        Actor {
            user_id: 1,
            username: "u".into(),
            role,
            department: dept.map(String::from),
            units: dept.map(|d| vec![d.to_string()]).unwrap_or_default(),
        }
    }

    fn file(id: &str) -> StoredFile {
        StoredFile {
            id: id.into(),
            name: "现场.jpg".into(),
            content_type: "image/jpeg".into(),
            class: FileClass::Image,
            size: 10,
            sha256: "00".into(),
            storage_key: storage_key(1, id),
            thumbnail_key: None,
            width: Some(4),
            height: Some(3),
        }
    }

    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0];
    const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D];

    #[test]
    fn the_type_is_judged_from_the_content_not_the_name() {
        assert_eq!(judge_type("a.png", JPEG).unwrap().mime, "image/jpeg");
        assert_eq!(judge_type("a.jpg", PNG).unwrap().class, FileClass::Image);
        assert_eq!(judge_type("x.pdf", b"%PDF-1.7\n").unwrap().class, FileClass::Pdf);
        let e = judge_type("photo.jpg", b"#!/bin/sh\nrm -rf /\n").unwrap_err();
        assert!(matches!(e, AttachmentError::Rejected { field: "file", .. }), "{e:?}");
        let e = judge_type("photo.jpg", b"PK\x03\x04\x14\0\0\0").unwrap_err();
        assert!(e.to_string().contains("photo.jpg"), "{e}");
    }

    #[test]
    fn names_are_for_display_only() {
        assert_eq!(clean_name("../../etc/passwd", "pdf"), "passwd");
        assert_eq!(clean_name("C:\\Users\\a\\现场照片.jpg", "jpg"), "现场照片.jpg");
        assert_eq!(clean_name("..", "jpg"), "附件.jpg");
        assert_eq!(clean_name("a\u{0}b\n.png", "png"), "ab.png");
        assert_eq!(clean_name(&"长".repeat(300), "jpg").chars().count(), MAX_NAME_CHARS);
        assert_eq!(storage_key(7, "abc"), "tickets/7/abc");
    }

    #[test]
    fn limits_name_the_configuration_key() {
        assert!(LIMITS.check_file("a", 1000).is_ok());
        let e = LIMITS.check_file("a.jpg", 1001).unwrap_err();
        assert!(matches!(e, AttachmentError::TooLarge { limit: "attachment_max_bytes", .. }));
        assert!(matches!(
            LIMITS.check_request(1501).unwrap_err(),
            AttachmentError::TooLarge { limit: "attachments_request_max_bytes", .. }
        ));
        assert!(LIMITS.check_dimensions("bomb.png", 100_000, 100_000).is_err());
        assert!(LIMITS.check_dimensions("ok.png", 10, 10).is_ok());
    }

    #[test]
    fn departments_attach_only_to_their_own_work() {
        let now = Utc::now();
        let t = ticket_in(Status::Accepted, Some("cgw"), &["sthj"]);
        let lead = actor(Role::Department, Some("cgw"));
        let req = Request { purpose: None, public: None };
        let events = decide_add(&t, Uploader::Staff(&lead), req, &[file("a")], &LIMITS, now).unwrap();
        let EventKind::AttachmentAdded(a) = &events[0] else { panic!() };
        assert_eq!((a.purpose, a.source, a.department.as_deref()), (Purpose::Reply, Source::Department, Some("cgw")));
        let assist = actor(Role::Department, Some("sthj"));
        let events = decide_add(&t, Uploader::Staff(&assist), req, &[file("b")], &LIMITS, now).unwrap();
        let EventKind::AttachmentAdded(a) = &events[0] else { panic!() };
        assert_eq!(a.purpose, Purpose::Assist);
        let reply_by_assist = Request { purpose: Some(Purpose::Reply), public: None };
        assert!(matches!(
            decide_add(&t, Uploader::Staff(&assist), reply_by_assist, &[file("c")], &LIMITS, now),
            Err(DecisionError::Forbidden(_))
        ));
        let other = actor(Role::Department, Some("jd-a"));
        assert!(decide_add(&t, Uploader::Staff(&other), req, &[file("d")], &LIMITS, now).is_err());
        let closed = ticket_in(Status::Closed, Some("cgw"), &[]);
        assert!(decide_add(&closed, Uploader::Staff(&lead), req, &[file("e")], &LIMITS, now).is_err());
    }

    #[test]
    fn files_per_ticket_are_limited() {
        let now = Utc::now();
        let t = ticket_in(Status::Received, None, &[]);
        let op = actor(Role::Operator, None);
        let req = Request { purpose: None, public: None };
        let four: Vec<StoredFile> = (0..4).map(|i| file(&i.to_string())).collect();
        let e = decide_add(&t, Uploader::Staff(&op), req, &four, &LIMITS, now).unwrap_err();
        assert!(e.to_string().contains("attachments_per_ticket"), "{e}");
        let events = decide_add(&t, Uploader::Staff(&op), req, &four[..3], &LIMITS, now).unwrap();
        let EventKind::AttachmentAdded(a) = &events[0] else { panic!() };
        assert_eq!((a.purpose, a.source), (Purpose::Intake, Source::Caller));
    }

    #[test]
    fn residents_see_public_files_and_departments_never_a_confidential_callers() {
        let now = Utc::now();
        let mut t = ticket_in(Status::Accepted, Some("cgw"), &[]);
        t.created_at = now;
        let resident = decide_add(
            &t,
            Uploader::Resident,
            Request { purpose: None, public: Some(false) },
            &[file("r")],
            &LIMITS,
            now,
        )
        .unwrap();
        let lead = actor(Role::Department, Some("cgw"));
        let dept =
            decide_add(&t, Uploader::Staff(&lead), Request { purpose: None, public: None }, &[file("d")], &LIMITS, now)
                .unwrap();
        for e in resident.iter().chain(&dept) {
            if let EventKind::AttachmentAdded(a) = e {
                t.attachments.push(a.clone());
            }
        }
        let names = |v: Viewer, t: &Ticket| visible_list(t, v).map(|a| a.id.clone()).collect::<Vec<_>>();
        assert_eq!(names(Viewer::Resident, &t), ["r"], "the resident's own file is public; the department's is not");
        assert_eq!(names(Viewer::Staff(&lead), &t), ["r", "d"]);
        t.confidential = true;
        assert_eq!(names(Viewer::Staff(&lead), &t), ["d"], "a confidential caller's files stay at the centre");
        let op = actor(Role::Operator, None);
        assert_eq!(names(Viewer::Staff(&op), &t), ["r", "d"]);
        t.created_at = now - chrono::Duration::hours(RESIDENT_WINDOW_HOURS + 1);
        assert!(decide_add(
            &t,
            Uploader::Resident,
            Request { purpose: None, public: None },
            &[file("x")],
            &LIMITS,
            now
        )
        .is_err());
    }

    #[test]
    fn a_reply_photo_is_an_image_from_the_lead_after_accepting() {
        let now = Utc::now();
        let mut t = ticket_in(Status::Accepted, Some("cgw"), &[]);
        t.accepted_at = Some(now - chrono::Duration::hours(1));
        assert!(!has_reply_photo(&t, "cgw"));
        let lead = actor(Role::Department, Some("cgw"));
        for e in
            decide_add(&t, Uploader::Staff(&lead), Request { purpose: None, public: None }, &[file("p")], &LIMITS, now)
                .unwrap()
        {
            if let EventKind::AttachmentAdded(a) = e {
                t.attachments.push(a);
            }
        }
        assert!(has_reply_photo(&t, "cgw"));
        assert!(!has_reply_photo(&t, "sthj"));
    }

    #[test]
    fn downloads_keep_chinese_names() {
        let d = content_disposition("现场 照片\".jpg", false);
        assert!(d.starts_with("attachment; filename=\""), "{d}");
        assert!(d.contains("filename*=UTF-8''%E7%8E%B0%E5%9C%BA%20%E7%85%A7%E7%89%87%22.jpg"), "{d}");
        assert!(!d[..d.find("filename*").unwrap()].contains('现'));
    }
}
