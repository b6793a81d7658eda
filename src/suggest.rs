//! Intake assistance (智能辅助填单) as a service: answering a call being typed with the model
//! in force, and training a new model version from the centre's tickets.
//!
//! The rules — features, the model, place, urgency, what counts as bad input — are
//! `domain::suggest`'s; this module segments text (jieba with the district's words, exactly as
//! search does: `search::segment`), keeps the model in memory and trains it.
//!
//! * A model version is what the centre's tickets taught ([`History`]), stored in
//!   `suggest_models`; a server combines it with the catalogue's category words when it loads
//!   it, and again after every rules reload, so an edit of `categories.toml` counts at once.
//!   Before any training the words alone answer, as version 0.
//! * Training reads the newest [`TRAINING_WINDOW`] tickets with the category each has now,
//!   runs on a schedule (`suggest_train_cron`, claimed in `job_runs` so that with several
//!   instances it happens once) and on demand (`hotline suggest train`).
//! * Every instance looks for a newer version at most every [`REFRESH`], so a model trained
//!   by one instance answers on all of them within that time.

use crate::catalog::Catalog;
use crate::domain::rules::RoutingInput;
use crate::domain::suggest::{self, CategorySuggestion, History, Model, Notice, Place, UrgencyHint};
use crate::store::suggest::StoredModel;
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

/// Tickets learned from at most: the newest ones, so the model follows how callers speak now.
pub const TRAINING_WINDOW: i64 = 200_000;
/// Tickets read and segmented per step of training.
const BATCH: i64 = 2_000;
/// How often a server asks the database whether a newer model version exists.
pub const REFRESH: Duration = Duration::from_secs(30);

/// The model answering now.
pub struct Ready {
    /// 0 before any training (the centre's words alone).
    pub version: i64,
    pub trained_at: Option<DateTime<Utc>>,
    /// Tickets the version learned from.
    pub tickets: i64,
    pub model: Model,
    /// The catalogue it was built against; a reload builds it again.
    catalog: Weak<Catalog>,
}

/// Holds the model in force for one server.
#[derive(Default)]
pub struct Suggester {
    ready: RwLock<Option<Arc<Ready>>>,
    stored: RwLock<Option<Arc<StoredModel>>>,
    checked_at: Mutex<Option<Instant>>,
}

/// What the operator is typing.
pub struct Call<'a> {
    pub content: &'a str,
    pub address: &'a str,
    /// The kind picked so far (诉求类型), for the urgency question to the rules.
    pub kind: &'a str,
    pub now: DateTime<Utc>,
}

/// The answer to a call being typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub categories: Vec<CategorySuggestion>,
    pub place: Place,
    pub urgency: Option<UrgencyHint>,
    pub model_version: i64,
    /// Why `categories` is empty, when it is.
    pub notice: Option<Notice>,
}

impl Suggester {
    /// The model for `catalog`, from the newest stored version (looked for at most every
    /// [`REFRESH`]), built again when the version or the catalogue changed.
    pub async fn ready(&self, store: &Store, catalog: &Arc<Catalog>) -> Result<Arc<Ready>, StoreError> {
        let due = self.checked_at.lock().expect("suggester lock").is_none_or(|at| at.elapsed() >= REFRESH);
        if due {
            let newest = store.latest_suggest_version().await?;
            let held = self.stored.read().expect("suggester lock").as_ref().map(|s| s.version);
            if newest.is_some() && newest != held {
                if let Some(stored) = store.latest_suggest_model().await? {
                    self.install(stored);
                }
            }
            *self.checked_at.lock().expect("suggester lock") = Some(Instant::now());
        }
        let stored = self.stored.read().expect("suggester lock").clone();
        let version = stored.as_ref().map_or(0, |s| s.version);
        if let Some(ready) = self.ready.read().expect("suggester lock").as_ref() {
            if ready.version == version && Weak::ptr_eq(&ready.catalog, &Arc::downgrade(catalog)) {
                return Ok(ready.clone());
            }
        }
        let empty = History::default();
        let history = stored.as_ref().map_or(&empty, |s| &s.history);
        let ready = Arc::new(Ready {
            version,
            trained_at: stored.as_ref().map(|s| s.trained_at),
            tickets: stored.as_ref().map_or(0, |s| s.tickets),
            model: Model::build(history, &catalog.district),
            catalog: Arc::downgrade(catalog),
        });
        *self.ready.write().expect("suggester lock") = Some(ready.clone());
        Ok(ready)
    }

    /// Puts a version in force here (one this server trained, or found newer in the store).
    pub fn install(&self, stored: StoredModel) {
        let mut held = self.stored.write().expect("suggester lock");
        if held.as_ref().is_none_or(|h| h.version < stored.version) {
            *held = Some(Arc::new(stored));
        }
    }

    /// Suggestions for a call being typed. Bad input gets an empty answer with a notice.
    pub async fn answer(&self, store: &Store, catalog: &Arc<Catalog>, call: &Call<'_>) -> Result<Answer, StoreError> {
        let ready = self.ready(store, catalog).await?;
        Ok(answer_with(&ready.model, ready.version, catalog, call))
    }
}

/// The answer from a given model (the benchmark calls this directly).
pub fn answer_with(model: &Model, version: i64, catalog: &Catalog, call: &Call<'_>) -> Answer {
    let district = &catalog.district;
    if let Err(notice) = suggest::screen(call.content) {
        // What was typed says nothing, but the address may still say where.
        let address_ok = call.address.chars().count() <= crate::domain::intake::MAX_ADDRESS;
        let place = if address_ok { suggest::place(district, call.address, "") } else { Place::default() };
        return Answer { categories: Vec::new(), place, urgency: None, model_version: version, notice: Some(notice) };
    }
    let words = catalog.segmenter.all_words(call.content);
    let features = suggest::features(&words, call.content, model.centre_words());
    let categories = suggest::categories(model, district, &features);
    let address = if call.address.chars().count() <= crate::domain::intake::MAX_ADDRESS { call.address } else { "" };
    let place = suggest::place(district, address, call.content);
    let input = RoutingInput {
        kind: call.kind,
        category: "",
        content: call.content,
        address,
        street: place.street.as_deref(),
        community: place.community.as_deref(),
        channel: "phone",
        urgency: "normal",
        received_at: call.now,
    };
    // Under the best suggestion only: a less likely category's emergency rule (井盖 缺失 for a
    // call about a dark street) would cry wolf.
    let urgency = suggest::urgency(&catalog.rules, district, &categories[..categories.len().min(1)], &input);
    let notice = categories.is_empty().then_some(Notice::NoKnownWords);
    Answer { categories, place, urgency, model_version: version, notice }
}

/// The history learned from `examples` (content, final category) with `catalog`'s words and
/// segmentation: what training does, without the database (the benchmark uses it).
pub fn learn<'a>(catalog: &Catalog, examples: impl IntoIterator<Item = (&'a str, &'a str)>) -> History {
    let words_model = Model::build(&History::default(), &catalog.district);
    let mut history = History::default();
    for (content, category) in examples {
        let words = catalog.segmenter.all_words(content);
        history.add(category, &suggest::features(&words, content, words_model.centre_words()));
    }
    history.retain_leaves(&catalog.district);
    history
}

/// Trains a new model version from the newest [`TRAINING_WINDOW`] tickets and stores it.
pub async fn train(store: &Store, catalog: Arc<Catalog>) -> Result<StoredModel, StoreError> {
    let mut after = store.suggest_window_start(TRAINING_WINDOW).await?;
    let mut history = History::default();
    let centre_words = Model::build(&History::default(), &catalog.district).centre_words().to_vec();
    loop {
        let batch = store.suggest_examples(after, BATCH).await?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        // Segmenting is CPU work: off the request workers.
        let catalog = catalog.clone();
        let centre_words = centre_words.clone();
        let learned = tokio::task::spawn_blocking(move || {
            batch
                .iter()
                .map(|e| {
                    let words = catalog.segmenter.all_words(&e.content);
                    (e.category.clone(), suggest::features(&words, &e.content, &centre_words))
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("training stopped: {e}")))?;
        for (category, features) in learned {
            history.add(&category, &features);
        }
    }
    history.retain_leaves(&catalog.district);
    store.save_suggest_model(&history, after).await
}

/// A one-line account of a trained version, for logs, the job's outcome and the command line.
pub fn describe(stored: &StoredModel) -> String {
    let words: usize = stored.history.categories.values().map(|c| c.words.len()).sum();
    format!(
        "model version {} learned from {} tickets ({} categories with history, {} category words)",
        stored.version,
        stored.tickets,
        stored.history.categories.len(),
        words
    )
}
