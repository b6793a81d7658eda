//! Boards as changes. A client is sent a board whole once (`view`), then only what changed
//! (`view_patch`, an RFC 6902 JSON Patch from the board it holds to the current one; the
//! frame format is in `socket.rs`). A wall screen used to pull its whole ~60 KB board up to
//! four times a second although most of it had not changed.
//!
//! Every computed board has a version number, unique in this process. A board shared by many
//! clients (the supervisor's wall, a department's queue) is computed once for all of them, and
//! the patch from each version a client holds to the current one is made once and sent to
//! every client holding that version: 200 wall screens cost one diff, not 200.

use axum::extract::ws::Utf8Bytes;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

static NEXT_VERSION: AtomicU64 = AtomicU64::new(1);

/// One board as computed: what a client holds after it was sent (whole or as a patch).
pub(crate) struct Board {
    pub view: &'static str,
    pub version: u64,
    /// The last sequence number of the log the board reflects.
    pub seq: i64,
    pub data: Value,
    full: OnceLock<Utf8Bytes>,
}

impl Board {
    /// The board after `previous`: the same board (same version) when nothing in it changed,
    /// so its clients are sent nothing.
    pub fn next(previous: Option<&Arc<Board>>, view: &'static str, seq: i64, data: Value) -> Arc<Board> {
        match previous {
            Some(p) if p.data == data => p.clone(),
            _ => Arc::new(Board {
                view,
                version: NEXT_VERSION.fetch_add(1, Ordering::Relaxed),
                seq,
                data,
                full: OnceLock::new(),
            }),
        }
    }

    /// `{"type":"view","view":…,"seq":n,"version":v,"data":{…}}`, built once.
    pub fn full_frame(&self) -> Utf8Bytes {
        self.full
            .get_or_init(|| {
                Utf8Bytes::from(
                    json!({"type": "view", "view": self.view, "seq": self.seq, "version": self.version, "data": self.data})
                        .to_string(),
                )
            })
            .clone()
    }
}

/// What to send a client that holds `held` (if anything) of a view whose board is now `to`:
/// nothing when it holds this very version, else the patch from its version, or the whole
/// board when it holds none or the patch would be no smaller.
pub(crate) fn update(held: Option<&Arc<Board>>, to: &Arc<Board>) -> Option<Utf8Bytes> {
    match held {
        Some(from) if from.version == to.version => None,
        Some(from) => Some(patch_or_full(from, to)),
        None => Some(to.full_frame()),
    }
}

fn patch_or_full(from: &Board, to: &Board) -> Utf8Bytes {
    let patch = json_patch::diff(&from.data, &to.data);
    // The pages apply add, remove and replace (web/js/api.js); anything else goes whole.
    let plain = patch.0.iter().all(|op| {
        use json_patch::PatchOperation::{Add, Remove, Replace};
        matches!(op, Add(_) | Remove(_) | Replace(_))
    });
    if !plain {
        return to.full_frame();
    }
    let frame = json!({
        "type": "view_patch",
        "view": to.view,
        "seq": to.seq,
        "from": from.version,
        "version": to.version,
        "patch": patch,
    })
    .to_string();
    let full = to.full_frame();
    if frame.len() < full.as_str().len() {
        Utf8Bytes::from(frame)
    } else {
        full
    }
}

/// A board shared by its viewers, behind one lock: when it was computed, the board, and the
/// patches already made from older versions to it.
#[derive(Default)]
pub(crate) struct SharedBoard {
    pub computed_at: Option<Instant>,
    pub current: Option<Arc<Board>>,
    patches: HashMap<u64, Utf8Bytes>,
}

impl SharedBoard {
    /// Puts in a freshly computed board (the same version when nothing in it changed).
    pub fn replace(&mut self, view: &'static str, seq: i64, data: Value) -> Arc<Board> {
        let board = Board::next(self.current.as_ref(), view, seq, data);
        if self.current.as_ref().is_none_or(|c| c.version != board.version) {
            self.patches.clear();
        }
        self.computed_at = Some(Instant::now());
        self.current = Some(board.clone());
        board
    }

    /// [`update`] for the current board, each patch made once for all clients holding the
    /// same version.
    pub fn update(&mut self, held: Option<&Arc<Board>>) -> Option<Utf8Bytes> {
        let to = self.current.as_ref()?;
        match held {
            Some(from) if from.version != to.version => {
                Some(self.patches.entry(from.version).or_insert_with(|| patch_or_full(from, to)).clone())
            }
            _ => update(held, to),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(held: &Value, frame: &str) -> Value {
        let frame: Value = serde_json::from_str(frame).unwrap();
        match frame["type"].as_str().unwrap() {
            "view" => frame["data"].clone(),
            "view_patch" => {
                let mut doc = held.clone();
                let patch: json_patch::Patch = serde_json::from_value(frame["patch"].clone()).unwrap();
                json_patch::patch(&mut doc, &patch).unwrap();
                doc
            }
            other => panic!("unexpected frame {other}"),
        }
    }

    fn wall(overdue: &[&str], open: i64) -> Value {
        let items: Vec<Value> = (0..40).map(|i| json!({"dept": format!("单位{i}"), "open": i * 3})).collect();
        json!({"seq": open, "overdue": overdue, "open": open, "by_department": items})
    }

    #[test]
    fn a_client_holding_the_board_gets_only_what_changed_and_ends_with_the_same_board() {
        let mut shared = SharedBoard::default();
        let first = shared.replace("supervisor", 1, wall(&["A"], 10));
        let sent = shared.update(None).unwrap();
        assert!(sent.as_str().contains("\"type\":\"view\""));
        let client = apply(&Value::Null, sent.as_str());

        let second = shared.replace("supervisor", 2, wall(&["A", "B"], 11));
        let patch = shared.update(Some(&first)).unwrap();
        assert!(patch.as_str().contains("\"type\":\"view_patch\""), "{}", patch.as_str());
        assert!(
            patch.as_str().len() * 5 < second.full_frame().as_str().len(),
            "a patch is much smaller than the board"
        );
        let frame: Value = serde_json::from_str(patch.as_str()).unwrap();
        assert_eq!(frame["from"], first.version);
        assert_eq!(frame["version"], second.version);
        assert_eq!(apply(&client, patch.as_str()), second.data);
    }

    #[test]
    fn an_unchanged_board_keeps_its_version_and_sends_nothing() {
        let mut shared = SharedBoard::default();
        let first = shared.replace("supervisor", 1, wall(&[], 3));
        let again = shared.replace("supervisor", 1, wall(&[], 3));
        assert_eq!(first.version, again.version);
        assert!(shared.update(Some(&first)).is_none());
    }

    #[test]
    fn clients_holding_the_same_version_share_one_patch_and_older_holders_get_their_own() {
        let mut shared = SharedBoard::default();
        let v1 = shared.replace("department", 1, wall(&["A"], 1));
        let v2 = shared.replace("department", 2, wall(&["A", "B"], 2));
        let v3 = shared.replace("department", 3, wall(&["B"], 3));
        let a = shared.update(Some(&v2)).unwrap();
        let b = shared.update(Some(&v2)).unwrap();
        assert_eq!(a.as_str().as_ptr(), b.as_str().as_ptr(), "made once, shared");
        let from_v1 = shared.update(Some(&v1)).unwrap();
        assert_eq!(apply(&v1.data, from_v1.as_str()), v3.data);
        assert_eq!(apply(&v2.data, a.as_str()), v3.data);
    }

    #[test]
    fn a_board_that_changed_all_over_goes_whole() {
        let v1 = Board::next(None, "operator", 1, json!({"a": 1}));
        let v2 = Board::next(Some(&v1), "operator", 2, json!({"b": [1, 2, 3], "c": "x"}));
        let frame = update(Some(&v1), &v2).unwrap();
        assert!(frame.as_str().contains("\"type\":\"view\""), "{}", frame.as_str());
    }
}
