//! The district as data: reads `dispatch_rules/` (departments, regions, categories, the
//! working calendar, SLA policies and the search words) into the domain's types, and adapts them to the
//! interfaces the state machine asks for. A catalog is immutable; reloading builds a new one.

use crate::domain::calendar::{Calendar, SlaDuration};
use crate::domain::callbacks::CallbackPolicy;
use crate::domain::clocks::SlaContext;
use crate::domain::diagnostic::Diagnostic;
use crate::domain::district::District;
use crate::domain::intake::Places;
use crate::domain::lifecycle::{Actor, Context, Directory};
use crate::domain::rules::{RoutingInput, RuleSet, Vocabulary, GUARDS_FILE};
use crate::domain::sla::{SlaPolicies, Stage};
use crate::search::segment::Segmenter;
use crate::store::users::DepartmentRow;
use chrono::{DateTime, Utc};
use std::path::Path;
use std::sync::Arc;

pub struct Catalog {
    pub district: District,
    pub calendar: Calendar,
    pub policies: SlaPolicies,
    /// 回访: calling hours, retries, sampling.
    pub callbacks: CallbackPolicy,
    /// The dispatch catalogue (派单目录); built against this district.
    pub rules: RuleSet,
    /// What `hotline rules check` would warn about in the rules now in force.
    pub rule_warnings: Vec<Diagnostic>,
    /// Query segmentation with the district's own words (`search_words.txt`); the dispatch
    /// rules read the content in the same words.
    pub segmenter: Arc<Segmenter>,
    /// 短信模板 (`sms_templates.toml`).
    pub sms_templates: crate::domain::sms::SmsTemplates,
}

/// The district's search words. The file may be absent — a rules folder from before it
/// existed still loads, with jieba's general dictionary alone — but never malformed.
const SEARCH_WORDS: &str = "search_words.txt";

fn read(dir: &Path, name: &str, diagnostics: &mut Vec<Diagnostic>) -> String {
    let path = dir.join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        diagnostics.push(Diagnostic::error(&path.display().to_string(), 0, 0, format!("cannot read: {e}")));
        String::new()
    })
}

impl Catalog {
    /// Reads and validates every file; all problems are reported, not just the first.
    pub fn load(dir: &Path) -> Result<Catalog, Vec<Diagnostic>> {
        let mut diagnostics = Vec::new();
        let departments = read(dir, "departments.toml", &mut diagnostics);
        let regions = read(dir, "regions.toml", &mut diagnostics);
        let categories = read(dir, "categories.toml", &mut diagnostics);
        let hours = read(dir, "calendar/hours.toml", &mut diagnostics);
        let policies = read(dir, "sla_policies.toml", &mut diagnostics);
        let callbacks = read(dir, "callbacks.toml", &mut diagnostics);
        let sms = read(dir, crate::domain::sms::TEMPLATES_FILE, &mut diagnostics);
        let mut years: Vec<(String, String)> = Vec::new();
        match std::fs::read_dir(dir.join("calendar")) {
            Ok(entries) => {
                for entry in entries.flatten() {
                    let name = entry.file_name().to_string_lossy().to_string();
                    if name.ends_with(".toml") && name != "hours.toml" {
                        let text = read(&dir.join("calendar"), &name, &mut diagnostics);
                        years.push((format!("calendar/{name}"), text));
                    }
                }
            }
            Err(e) => {
                diagnostics.push(Diagnostic::error(&dir.join("calendar").display().to_string(), 0, 0, e.to_string()))
            }
        }
        years.sort();
        let rule_files = read_rule_files(dir, &mut diagnostics);
        let (guards, phrase_lists, examples) = read_rule_vocabulary(dir, &mut diagnostics);
        let search_words = match std::fs::read_to_string(dir.join(SEARCH_WORDS)) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(_) => read(dir, SEARCH_WORDS, &mut diagnostics),
        };
        if !diagnostics.is_empty() {
            return Err(diagnostics);
        }
        let district = District::parse(
            ("departments.toml", &departments),
            ("regions.toml", &regions),
            ("categories.toml", &categories),
        );
        let year_refs: Vec<(&str, &str)> = years.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
        let calendar = Calendar::parse(("calendar/hours.toml", &hours), &year_refs);
        let policies = SlaPolicies::parse(("sla_policies.toml", &policies));
        let callbacks = CallbackPolicy::parse(("callbacks.toml", &callbacks));
        let words = crate::domain::search_words::parse(SEARCH_WORDS, &search_words);
        let sms_templates = crate::domain::sms::SmsTemplates::parse((crate::domain::sms::TEMPLATES_FILE, &sms));
        if let Err(errors) = &sms_templates {
            diagnostics.extend(errors.iter().cloned());
        }
        match (district, calendar, policies, callbacks, words, sms_templates) {
            (Ok(district), Ok(calendar), Ok(policies), Ok(callbacks), Ok(words), Ok(sms_templates)) => {
                let names = policies.names();
                let segmenter = Arc::new(Segmenter::new(words));
                let vocabulary = Vocabulary { cutter: segmenter.clone(), guards, phrase_lists, examples };
                let (rules, rule_warnings) = RuleSet::load(&rule_files, &vocabulary, &district, &names)?;
                Ok(Catalog { district, calendar, policies, callbacks, rules, rule_warnings, segmenter, sms_templates })
            }
            (d, c, p, b, w, _) => {
                diagnostics.extend(d.err().unwrap_or_default());
                diagnostics.extend(c.err().unwrap_or_default());
                diagnostics.extend(p.err().unwrap_or_default());
                diagnostics.extend(b.err().unwrap_or_default());
                diagnostics.extend(w.err().unwrap_or_default());
                Err(diagnostics)
            }
        }
    }

    /// The routing input of a ticket being logged.
    pub fn routing_input<'a>(&self, t: &'a crate::domain::intake::NewTicket, now: DateTime<Utc>) -> RoutingInput<'a> {
        RoutingInput {
            kind: t.kind.as_str(),
            category: &t.category,
            content: &t.content,
            address: &t.address,
            street: t.street.as_deref(),
            community: t.community.as_deref(),
            channel: t.channel.as_str(),
            urgency: t.urgency.as_str(),
            received_at: now,
        }
    }

    /// What the state machine needs to decide for `actor` at `now`.
    pub fn context<'a>(&'a self, actor: &'a Actor, now: DateTime<Utc>) -> Context<'a> {
        Context { now, actor, directory: &self.district, sla: self.sla() }
    }

    pub fn sla(&self) -> SlaContext<'_> {
        SlaContext { calendar: &self.calendar, policies: &self.policies, callbacks: &self.callbacks }
    }

    pub fn stage_duration(&self, policy: &str, stage: Stage) -> Option<SlaDuration> {
        self.policies.get(policy).map(|p| p.limit(stage).within)
    }

    pub fn department_rows(&self) -> Vec<DepartmentRow> {
        self.district
            .departments
            .iter()
            .map(|d| DepartmentRow {
                code: d.code.clone(),
                name: d.name.clone(),
                short_name: d.short_name.clone(),
                kind: d.kind.as_str().to_string(),
                parent: d.parent.clone(),
                email: d.email.clone(),
                phone: d.phone.clone(),
            })
            .collect()
    }
}

/// `rules/*.toml` under the rules directory, named `rules/NAME.toml` in diagnostics.
pub fn read_rule_files(dir: &Path, diagnostics: &mut Vec<Diagnostic>) -> Vec<(String, String)> {
    // Unlike the optional folders, a catalogue without its rules folder is an error.
    let rules_dir = dir.join("rules");
    if let Err(e) = std::fs::read_dir(&rules_dir) {
        diagnostics.push(Diagnostic::error(&rules_dir.display().to_string(), 0, 0, format!("cannot read: {e}")));
        return Vec::new();
    }
    files_ending(dir, "rules", ".toml", diagnostics)
}

/// A file of the rules directory: (name as diagnostics give it, contents).
pub type NamedFile = (String, String);

/// `guards.toml` (the guards' cue words; optional), `phrases/*.txt` (the curated phrase lists
/// of the emergency rules) and `examples/*.tsv` (calls labelled by the centre's dispatchers, from
/// which the second opinion on urgency learns; optional), as the rules read them.
pub fn read_rule_vocabulary(
    dir: &Path,
    diagnostics: &mut Vec<Diagnostic>,
) -> (Option<NamedFile>, Vec<NamedFile>, Vec<NamedFile>) {
    let guards = match std::fs::read_to_string(dir.join(GUARDS_FILE)) {
        Ok(text) => Some((GUARDS_FILE.to_string(), text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(_) => Some((GUARDS_FILE.to_string(), read(dir, GUARDS_FILE, diagnostics))),
    };
    let phrase_lists = files_ending(dir, "phrases", ".txt", diagnostics);
    let examples = files_ending(dir, crate::domain::rules::learned::EXAMPLES_DIR, ".tsv", diagnostics);
    (guards, phrase_lists, examples)
}

/// The files of `dir/sub` whose names end with `suffix`, named `sub/NAME`, in name order; a
/// missing folder is none (the rules folder is checked first by [`read_rule_files`]).
fn files_ending(dir: &Path, sub: &str, suffix: &str, diagnostics: &mut Vec<Diagnostic>) -> Vec<NamedFile> {
    let folder = dir.join(sub);
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&folder) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.ends_with(suffix) {
                files.push((format!("{sub}/{name}"), read(&folder, &name, diagnostics)));
            }
        }
    }
    files.sort();
    files
}

/// The vocabulary of a rules directory with the district's words, for tools that load the
/// rule files on their own (benchmarks).
pub fn vocabulary(dir: &Path, segmenter: Arc<Segmenter>) -> Vocabulary {
    let (guards, phrase_lists, examples) = read_rule_vocabulary(dir, &mut Vec::new());
    Vocabulary { cutter: segmenter, guards, phrase_lists, examples }
}

impl Directory for District {
    fn department_exists(&self, code: &str) -> bool {
        self.department(code).is_some()
    }

    fn is_below(&self, code: &str, ancestor: &str) -> bool {
        code != ancestor && self.is_within(code, ancestor)
    }

    fn reply_photo_required(&self, category: &str) -> Option<String> {
        // The category or any category above it asks for the photo.
        let mut code = Some(category);
        while let Some(c) = code {
            let found = self.category(c)?;
            if found.photo_required {
                return Some(self.category(category).map_or(found.name.clone(), |leaf| leaf.name.clone()));
            }
            code = found.parent_code();
        }
        None
    }

    fn is_leaf_category(&self, code: &str) -> bool {
        District::is_leaf_category(self, code)
    }
}

impl Places for District {
    fn is_leaf_category(&self, code: &str) -> bool {
        District::is_leaf_category(self, code)
    }

    fn street_exists(&self, code: &str) -> bool {
        self.street(code).is_some()
    }

    fn street_of_community(&self, code: &str) -> Option<String> {
        self.community(code).map(|(s, _)| s.code.clone())
    }
}
