//! The district a hotline centre serves: the department tree (承办单位), the streets and
//! communities with the place words that locate a ticket, and the category taxonomy (分类).
//!
//! The data lives in `dispatch_rules/{departments,regions,categories}.toml`. This module is
//! pure: the caller reads the files and hands over their contents; [`District::parse`] checks
//! the three together (syntax, unknown fields, code syntax, duplicates, cross-file references,
//! the shape of the tree, unambiguous place words) and reports every problem it finds as a
//! line-numbered [`Diagnostic`], so one `hotline rules check` run shows all of them.
//!
//! A parsed [`District`] also carries lookup indexes (by code, the tree's children, the place
//! words for [`District::locate`]); they are built by `parse` only, so treat the public fields
//! as read-only.

use std::collections::HashMap;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::diagnostic::{Diagnostic, Severity};

/// File names under `dispatch_rules/`, for callers that read them.
pub const DEPARTMENTS_FILE: &str = "departments.toml";
pub const REGIONS_FILE: &str = "regions.toml";
pub const CATEGORIES_FILE: &str = "categories.toml";

#[derive(Debug, Clone, Serialize)]
pub struct District {
    pub departments: Vec<Department>,
    pub streets: Vec<Street>,
    pub categories: Vec<Category>,
    #[serde(skip)]
    index: Index,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Department {
    /// ascii `[a-z0-9-]`; also the department's demo login name.
    pub code: String,
    pub name: String,
    /// What operators and reports show, e.g. "区城管委"; the name when the file gives none.
    pub short_name: String,
    pub kind: DepartmentKind,
    pub parent: Option<String>,
    /// Empty when the file gives none.
    pub email: String,
    /// Empty when the file gives none.
    pub phone: String,
    /// 联络员手机: the mobile of the department's contact, who is texted accept reminders and
    /// urgent alerts. Empty when the file gives none (then the department gets no texts).
    pub liaison_mobile: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DepartmentKind {
    /// The hotline centre itself (热线中心).
    Centre,
    /// A district bureau or commission (委办局).
    Bureau,
    /// A public utility company (供水, 供热, 供电, 燃气 …).
    Utility,
    /// A street office (街道办事处).
    Street,
    /// A residents' committee (社区居委会), below its street office.
    Community,
    /// A sub-unit of a bureau (执法队, 监管所 …).
    Unit,
}

impl DepartmentKind {
    pub const ALL: [DepartmentKind; 6] = [
        DepartmentKind::Centre,
        DepartmentKind::Bureau,
        DepartmentKind::Utility,
        DepartmentKind::Street,
        DepartmentKind::Community,
        DepartmentKind::Unit,
    ];

    /// The spelling used in the files and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            DepartmentKind::Centre => "centre",
            DepartmentKind::Bureau => "bureau",
            DepartmentKind::Utility => "utility",
            DepartmentKind::Street => "street",
            DepartmentKind::Community => "community",
            DepartmentKind::Unit => "unit",
        }
    }

    /// The label shown to users.
    pub fn label(self) -> &'static str {
        match self {
            DepartmentKind::Centre => "热线中心",
            DepartmentKind::Bureau => "委办局",
            DepartmentKind::Utility => "公共服务企业",
            DepartmentKind::Street => "街道",
            DepartmentKind::Community => "社区",
            DepartmentKind::Unit => "下属单位",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Street {
    pub code: String,
    /// e.g. "新华街道".
    pub name: String,
    /// Department code of the street office.
    pub office: String,
    pub roads: Vec<String>,
    pub landmarks: Vec<String>,
    /// Other ways callers name the street itself (新华街, 新华街道办), located like its roads.
    pub aliases: Vec<String>,
    pub communities: Vec<Community>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Community {
    pub code: String,
    /// e.g. "新华里社区".
    pub name: String,
    /// Department code of the residents' committee.
    pub department: String,
    /// Estate (小区) names.
    pub estates: Vec<String>,
    /// Other ways callers name the community or its estates (新华里, 老文昌), located like its estates.
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Category {
    /// Dot-separated numbers, e.g. "03.02.01"; the part before the last dot is the parent.
    pub code: String,
    pub name: String,
    /// Words callers use for this category (`words = [...]`), which intake assistance
    /// (`domain::suggest`) starts from before the centre has any history; on a parent they
    /// speak for every leaf below it.
    pub words: Vec<String>,
    /// A reply (办结回复) to a ticket in this category, or any below it, must carry a photo
    /// of the work done (现场照片), e.g. road repairs.
    pub photo_required: bool,
}

impl Category {
    /// 1 for a top-level category.
    pub fn level(&self) -> usize {
        self.code.split('.').count()
    }

    pub fn parent_code(&self) -> Option<&str> {
        self.code.rsplit_once('.').map(|(parent, _)| parent)
    }

    /// Whether this category is `ancestor` or below it ("03.02" covers "03.02.01" but not "03.021").
    pub fn is_within(&self, ancestor: &str) -> bool {
        code_is_within(&self.code, ancestor)
    }
}

/// Whether category code `code` is `ancestor` or below it.
pub fn code_is_within(code: &str, ancestor: &str) -> bool {
    code == ancestor
        || (code.len() > ancestor.len() && code.starts_with(ancestor) && code.as_bytes()[ancestor.len()] == b'.')
}

/// Where a free address text points, as found by [`District::locate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// Street code.
    pub street: String,
    /// Community code, when an estate or community name matched.
    pub community: Option<String>,
    /// The place word found in the address.
    pub matched_word: String,
}

/// Lookups built once by `parse`; every index refers into the public vectors.
#[derive(Debug, Clone, Default)]
struct Index {
    departments: HashMap<String, usize>,
    parent: Vec<Option<usize>>,
    children: Vec<Vec<usize>>,
    streets: HashMap<String, usize>,
    communities: HashMap<String, (usize, usize)>,
    categories: HashMap<String, usize>,
    category_has_children: Vec<bool>,
    /// Every street, community, road, landmark and estate name, with where it points.
    place_words: Vec<PlaceWord>,
}

#[derive(Debug, Clone)]
struct PlaceWord {
    word: String,
    chars: usize,
    street: usize,
    community: Option<usize>,
}

impl District {
    /// Each argument is (file name for diagnostics, contents).
    pub fn parse(
        departments: (&str, &str),
        regions: (&str, &str),
        categories: (&str, &str),
    ) -> Result<District, Vec<Diagnostic>> {
        let dep_src = Source { file: departments.0, text: departments.1 };
        let reg_src = Source { file: regions.0, text: regions.1 };
        let cat_src = Source { file: categories.0, text: categories.1 };
        let mut diags = Vec::new();

        let dep_file: Option<DepartmentsFile> = dep_src.deserialize(&mut diags);
        let reg_file: Option<RegionsFile> = reg_src.deserialize(&mut diags);
        let cat_file: Option<CategoriesFile> = cat_src.deserialize(&mut diags);

        // A file that did not deserialize takes no part in the cross-file checks, so one syntax
        // error is not buried under false "unknown department" messages.
        let dep_checked = dep_file.map(|f| check_departments(&dep_src, f, &mut diags));
        let reg_checked = reg_file.map(|f| check_regions(&reg_src, f, dep_checked.as_ref(), &mut diags));
        let cat_checked = cat_file.map(|f| check_categories(&cat_src, f, &mut diags));

        if !diags.is_empty() {
            let rank = |file: &str| [dep_src.file, reg_src.file, cat_src.file].iter().position(|f| *f == file);
            diags.sort_by_key(|d| (rank(&d.file), d.line, d.column));
            return Err(diags);
        }
        match (dep_checked, reg_checked, cat_checked) {
            (Some(d), Some(r), Some(c)) => Ok(District::build(d.departments, r, c)),
            _ => unreachable!("a file that failed to deserialize left a diagnostic"),
        }
    }

    /// The demo district shipped in `dispatch_rules/`, embedded at compile time (tests, seeding
    /// a demo database). Panics if the shipped files are invalid, which the tests rule out.
    pub fn demo() -> District {
        District::parse(
            (DEPARTMENTS_FILE, include_str!("../../dispatch_rules/departments.toml")),
            (REGIONS_FILE, include_str!("../../dispatch_rules/regions.toml")),
            (CATEGORIES_FILE, include_str!("../../dispatch_rules/categories.toml")),
        )
        .unwrap_or_else(|diags| {
            let lines: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
            panic!("shipped dispatch_rules are invalid:\n{}", lines.join("\n"))
        })
    }

    fn build(departments: Vec<Department>, streets: Vec<Street>, categories: Vec<Category>) -> District {
        let dep_index: HashMap<String, usize> =
            departments.iter().enumerate().map(|(i, d)| (d.code.clone(), i)).collect();
        let parent: Vec<Option<usize>> =
            departments.iter().map(|d| d.parent.as_ref().and_then(|p| dep_index.get(p).copied())).collect();
        let mut children = vec![Vec::new(); departments.len()];
        for (i, p) in parent.iter().enumerate() {
            if let Some(p) = p {
                children[*p].push(i);
            }
        }

        let mut street_index = HashMap::new();
        let mut community_index = HashMap::new();
        let mut place_words = Vec::new();
        for (si, street) in streets.iter().enumerate() {
            street_index.insert(street.code.clone(), si);
            let street_words =
                std::iter::once(&street.name).chain(&street.roads).chain(&street.landmarks).chain(&street.aliases);
            for word in street_words {
                place_words.push(PlaceWord::new(word, si, None));
            }
            for (ci, community) in street.communities.iter().enumerate() {
                community_index.insert(community.code.clone(), (si, ci));
                for word in std::iter::once(&community.name).chain(&community.estates).chain(&community.aliases) {
                    place_words.push(PlaceWord::new(word, si, Some(ci)));
                }
            }
        }

        let category_index: HashMap<String, usize> =
            categories.iter().enumerate().map(|(i, c)| (c.code.clone(), i)).collect();
        let mut category_has_children = vec![false; categories.len()];
        for c in &categories {
            if let Some(p) = c.parent_code().and_then(|p| category_index.get(p)) {
                category_has_children[*p] = true;
            }
        }

        District {
            departments,
            streets,
            categories,
            index: Index {
                departments: dep_index,
                parent,
                children,
                streets: street_index,
                communities: community_index,
                categories: category_index,
                category_has_children,
                place_words,
            },
        }
    }

    pub fn department(&self, code: &str) -> Option<&Department> {
        self.index.departments.get(code).map(|&i| &self.departments[i])
    }

    pub fn street(&self, code: &str) -> Option<&Street> {
        self.index.streets.get(code).map(|&i| &self.streets[i])
    }

    pub fn community(&self, code: &str) -> Option<(&Street, &Community)> {
        self.index.communities.get(code).map(|&(s, c)| {
            let street = &self.streets[s];
            (street, &street.communities[c])
        })
    }

    /// Every community with its street, in file order.
    pub fn communities(&self) -> impl Iterator<Item = (&Street, &Community)> {
        self.streets.iter().flat_map(|s| s.communities.iter().map(move |c| (s, c)))
    }

    pub fn category(&self, code: &str) -> Option<&Category> {
        self.index.categories.get(code).map(|&i| &self.categories[i])
    }

    /// Whether `code` is a known category with no children (tickets are filed under leaves).
    pub fn is_leaf_category(&self, code: &str) -> bool {
        self.index.categories.get(code).is_some_and(|&i| !self.index.category_has_children[i])
    }

    /// The leaf categories, in file order.
    pub fn leaf_categories(&self) -> impl Iterator<Item = &Category> {
        self.categories.iter().enumerate().filter(|(i, _)| !self.index.category_has_children[*i]).map(|(_, c)| c)
    }

    /// Full name path, e.g. "城乡建设 / 市容环卫 / 垃圾清运".
    pub fn category_path(&self, code: &str) -> Option<String> {
        let mut names = vec![self.category(code)?.name.as_str()];
        let mut current = code;
        while let Some((parent, _)) = current.rsplit_once('.') {
            names.push(self.category(parent)?.name.as_str());
            current = parent;
        }
        names.reverse();
        Some(names.join(" / "))
    }

    /// Finds the street (and community when an estate matches) named in free address text.
    /// Chinese has no word boundaries: substring match; the longest matching word wins;
    /// an estate also gives its street.
    ///
    /// Precisely: a match lying inside a longer match is dropped ("海川大学" inside
    /// "海川大学家属院"); of the rest, a community word (estate or community name) beats a
    /// street word (road, landmark, street name), as it says more: "长青街道长青苑" is 长青苑;
    /// then the longer word, then the earlier one. Whitespace in the address is ignored.
    pub fn locate(&self, address: &str) -> Option<Location> {
        let compact: String;
        let text = if address.chars().any(char::is_whitespace) {
            compact = address.chars().filter(|c| !c.is_whitespace()).collect();
            compact.as_str()
        } else {
            address
        };
        // A district has a few hundred place words and an address a few dozen characters, so
        // trying every word costs microseconds; an Aho-Corasick automaton would not pay for
        // its code. Ticket content (a fallback for some callers) is longer but still cheap.
        let mut found: Vec<(usize, usize, &PlaceWord)> = Vec::new();
        for word in &self.index.place_words {
            found.extend(text.match_indices(word.word.as_str()).map(|(at, w)| (at, at + w.len(), word)));
        }
        let inside_longer = |&(start, end, word): &(usize, usize, &PlaceWord)| {
            found.iter().any(|&(s, e, w)| w.chars > word.chars && s <= start && end <= e)
        };
        let (_, _, word) = found
            .iter()
            .filter(|m| !inside_longer(m))
            .min_by_key(|(start, _, word)| (word.community.is_none(), std::cmp::Reverse(word.chars), *start))?;
        let street = &self.streets[word.street];
        Some(Location {
            street: street.code.clone(),
            community: word.community.map(|c| street.communities[c].code.clone()),
            matched_word: word.word.clone(),
        })
    }

    /// `code` itself and every department below it in the tree (parents before children,
    /// siblings in file order). Empty for an unknown code.
    pub fn descendants(&self, code: &str) -> Vec<&str> {
        let Some(&root) = self.index.departments.get(code) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut stack = vec![root];
        while let Some(i) = stack.pop() {
            out.push(self.departments[i].code.as_str());
            stack.extend(self.index.children[i].iter().rev());
        }
        out
    }

    /// The departments directly below `code`, in file order.
    pub fn children(&self, code: &str) -> Vec<&Department> {
        match self.index.departments.get(code) {
            Some(&i) => self.index.children[i].iter().map(|&c| &self.departments[c]).collect(),
            None => Vec::new(),
        }
    }

    /// Whether `code` is `ancestor` or below it; false when `code` is unknown.
    pub fn is_within(&self, code: &str, ancestor: &str) -> bool {
        let Some(&start) = self.index.departments.get(code) else {
            return false;
        };
        let mut current = Some(start);
        // `parse` rejected cycles, so the walk ends at a root; the bound is belt and braces.
        for _ in 0..=self.departments.len() {
            match current {
                Some(i) if self.departments[i].code == ancestor => return true,
                Some(i) => current = self.index.parent[i],
                None => return false,
            }
        }
        false
    }

    /// The street office department for a street code.
    pub fn street_office(&self, street: &str) -> Option<&Department> {
        self.department(&self.street(street)?.office)
    }

    /// The residents' committee department for a community code.
    pub fn community_department(&self, community: &str) -> Option<&Department> {
        self.department(&self.community(community)?.1.department)
    }

    /// The hotline centre's own department, if the file names one.
    pub fn centre(&self) -> Option<&Department> {
        self.departments.iter().find(|d| d.kind == DepartmentKind::Centre)
    }
}

impl PlaceWord {
    fn new(word: &str, street: usize, community: Option<usize>) -> Self {
        PlaceWord { word: word.to_string(), chars: word.chars().count(), street, community }
    }
}

// ---------------------------------------------------------------------------------------------
// The files as written, with positions for diagnostics.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DepartmentsFile {
    #[serde(default)]
    department: Vec<RawDepartment>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDepartment {
    code: Spanned<String>,
    name: Spanned<String>,
    short_name: Option<Spanned<String>>,
    kind: Spanned<DepartmentKind>,
    parent: Option<Spanned<String>>,
    email: Option<Spanned<String>>,
    phone: Option<Spanned<String>>,
    liaison_mobile: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegionsFile {
    #[serde(default)]
    street: Vec<RawStreet>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStreet {
    code: Spanned<String>,
    name: Spanned<String>,
    office: Spanned<String>,
    #[serde(default)]
    roads: Vec<Spanned<String>>,
    #[serde(default)]
    landmarks: Vec<Spanned<String>>,
    #[serde(default)]
    aliases: Vec<Spanned<String>>,
    #[serde(default, rename = "community")]
    communities: Vec<RawCommunity>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCommunity {
    code: Spanned<String>,
    name: Spanned<String>,
    department: Spanned<String>,
    #[serde(default)]
    estates: Vec<Spanned<String>>,
    #[serde(default)]
    aliases: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoriesFile {
    #[serde(default)]
    category: Vec<RawCategory>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCategory {
    code: Spanned<String>,
    name: Spanned<String>,
    #[serde(default)]
    words: Vec<Spanned<String>>,
    #[serde(default)]
    photo_required: bool,
}

struct Source<'a> {
    file: &'a str,
    text: &'a str,
}

impl Source<'_> {
    fn deserialize<T: serde::de::DeserializeOwned>(&self, diags: &mut Vec<Diagnostic>) -> Option<T> {
        let err = match toml::from_str(self.text) {
            Ok(value) => return Some(value),
            Err(err) => err,
        };
        // serde stops at the first unknown or missing field. When the syntax is fine, each
        // top-level table is checked on its own as well, so one run reports all of them.
        let before = diags.len();
        if toml::from_str::<toml::Table>(self.text).is_ok() {
            for chunk in top_level_chunks(self.text) {
                if let Err(e) = toml::from_str::<T>(&self.text[chunk.clone()]) {
                    let offset = chunk.start + e.span().map_or(0, |s| s.start);
                    diags.push(Diagnostic::at_offset(
                        self.file,
                        self.text,
                        offset,
                        Severity::Error,
                        e.message().trim(),
                    ));
                }
            }
        }
        if diags.len() == before {
            diags.push(Diagnostic::from_toml(self.file, self.text, &err));
        }
        None
    }

    fn error(&self, span: &Range<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at_offset(self.file, self.text, span.start, Severity::Error, message)
    }

    fn line(&self, span: &Range<usize>) -> usize {
        super::diagnostic::line_column(self.text, span.start).0
    }
}

/// Byte ranges of `text` that each start at a top-level table header (`[[street]]`, not
/// `[[street.community]]`), plus whatever precedes the first one; each parses on its own.
fn top_level_chunks(text: &str) -> Vec<Range<usize>> {
    let mut starts = vec![0];
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let header = line.trim().trim_start_matches('[');
        let is_header = line.trim_start().starts_with('[');
        let name = header.split(']').next().unwrap_or("");
        if is_header && offset > 0 && !name.contains('.') {
            starts.push(offset);
        }
        offset += line.len();
    }
    starts.iter().enumerate().map(|(i, &start)| start..starts.get(i + 1).copied().unwrap_or(text.len())).collect()
}

/// The department file checked on its own, with what the regions check needs to know.
struct CheckedDepartments {
    departments: Vec<Department>,
    /// First occurrence of each code.
    by_code: HashMap<String, usize>,
}

/// Department, street and community codes: `[a-z0-9-]`, starting and ending with a letter or
/// digit, at most 40 characters (they become login names and URL segments).
fn valid_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 40
        && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !code.starts_with('-')
        && !code.ends_with('-')
}

/// Category codes: numbers separated by single dots, e.g. "03.02.01".
fn valid_category_code(code: &str) -> bool {
    code.split('.').all(|part| !part.is_empty() && part.len() <= 4 && part.bytes().all(|b| b.is_ascii_digit()))
}

fn valid_phone_field(phone: &str) -> bool {
    !phone.is_empty() && phone.chars().all(|c| c.is_ascii_digit() || c == '-' || c == ' ')
}

fn valid_email_field(email: &str) -> bool {
    match email.split_once('@') {
        Some((user, host)) => {
            !user.is_empty() && host.contains('.') && !email.chars().any(char::is_whitespace) && !host.contains('@')
        }
        None => false,
    }
}

fn check_name(src: &Source, what: &str, name: &Spanned<String>, diags: &mut Vec<Diagnostic>) {
    if name.get_ref().trim().is_empty() {
        diags.push(src.error(&name.span(), format!("{what} has an empty name")));
    }
}

fn check_departments(src: &Source, file: DepartmentsFile, diags: &mut Vec<Diagnostic>) -> CheckedDepartments {
    let raw = file.department;
    let mut by_code: HashMap<String, usize> = HashMap::new();
    let mut first_centre: Option<usize> = None;

    for (i, d) in raw.iter().enumerate() {
        let code = d.code.get_ref();
        if !valid_code(code) {
            diags.push(src.error(
                &d.code.span(),
                format!("department code \"{code}\" is not valid: use lowercase ascii letters, digits and '-'"),
            ));
        }
        if let Some(&first) = by_code.get(code) {
            let line = src.line(&raw[first].code.span());
            diags.push(
                src.error(&d.code.span(), format!("duplicate department code \"{code}\" (first on line {line})")),
            );
        } else {
            by_code.insert(code.clone(), i);
        }
        check_name(src, &format!("department \"{code}\""), &d.name, diags);
        if let Some(email) = &d.email {
            if !email.get_ref().is_empty() && !valid_email_field(email.get_ref()) {
                diags.push(src.error(
                    &email.span(),
                    format!("department \"{code}\": \"{}\" is not an email address", email.get_ref()),
                ));
            }
        }
        if let Some(phone) = &d.phone {
            if !phone.get_ref().is_empty() && !valid_phone_field(phone.get_ref()) {
                diags.push(src.error(
                    &phone.span(),
                    format!("department \"{code}\": \"{}\" is not a phone number", phone.get_ref()),
                ));
            }
        }
        if let Some(mobile) = &d.liaison_mobile {
            if !mobile.get_ref().is_empty() && super::sms::mobile(mobile.get_ref()).is_none() {
                diags.push(src.error(
                    &mobile.span(),
                    format!(
                        "department \"{code}\": liaison_mobile \"{}\" is not a mainland mobile (11 digits, 1[3-9]…)",
                        mobile.get_ref()
                    ),
                ));
            }
        }
        if *d.kind.get_ref() == DepartmentKind::Centre {
            if let Some(first) = first_centre {
                let line = src.line(&raw[first].kind.span());
                diags.push(src.error(
                    &d.kind.span(),
                    format!("a second department of kind \"centre\" (the first is on line {line})"),
                ));
            } else {
                first_centre = Some(i);
            }
        }
    }

    // References, now that every code is known.
    let mut parent: Vec<Option<usize>> = vec![None; raw.len()];
    for (i, d) in raw.iter().enumerate() {
        let code = d.code.get_ref();
        let kind = *d.kind.get_ref();
        match &d.parent {
            Some(p) => match by_code.get(p.get_ref()) {
                Some(&pi) => {
                    parent[i] = Some(pi);
                    let parent_kind = *raw[pi].kind.get_ref();
                    if kind == DepartmentKind::Community && parent_kind != DepartmentKind::Street && pi != i {
                        diags.push(src.error(
                            &p.span(),
                            format!(
                                "community \"{code}\" must be below a street office, but \"{}\" is of kind \"{}\"",
                                p.get_ref(),
                                parent_kind.as_str()
                            ),
                        ));
                    }
                }
                None => diags.push(src.error(
                    &p.span(),
                    format!("department \"{code}\": parent \"{}\" is not a known department", p.get_ref()),
                )),
            },
            None if matches!(kind, DepartmentKind::Community | DepartmentKind::Unit) => {
                diags.push(src.error(
                    &d.kind.span(),
                    format!("department \"{code}\" of kind \"{}\" needs a parent", kind.as_str()),
                ));
            }
            None => {}
        }
    }

    // Cycles: walk up from every department; a walk that meets its own path has found one.
    // Each cycle is reported once, at its member that comes first in the file.
    let mut state = vec![0u8; raw.len()]; // 0 unvisited, 1 on the current path, 2 done
    for start in 0..raw.len() {
        let mut path = Vec::new();
        let mut current = Some(start);
        while let Some(i) = current {
            match state[i] {
                0 => {
                    state[i] = 1;
                    path.push(i);
                    current = parent[i];
                }
                1 => {
                    let from = path.iter().position(|&p| p == i).unwrap_or(0);
                    let cycle = &path[from..];
                    let first = *cycle.iter().min().unwrap_or(&i);
                    let at = cycle.iter().position(|&p| p == first).unwrap_or(0);
                    let mut names: Vec<&str> =
                        cycle[at..].iter().chain(&cycle[..at]).map(|&p| raw[p].code.get_ref().as_str()).collect();
                    names.push(raw[first].code.get_ref());
                    let span = raw[first].parent.as_ref().map(|p| p.span()).unwrap_or(raw[first].code.span());
                    diags.push(src.error(&span, format!("the department tree has a cycle: {}", names.join(" → "))));
                    break;
                }
                _ => break,
            }
        }
        for i in path {
            state[i] = 2;
        }
    }

    let departments = raw
        .into_iter()
        .map(|d| Department {
            short_name: d.short_name.map(Spanned::into_inner).unwrap_or_else(|| d.name.get_ref().clone()),
            code: d.code.into_inner(),
            name: d.name.into_inner(),
            kind: d.kind.into_inner(),
            parent: d.parent.map(Spanned::into_inner),
            email: d.email.map(Spanned::into_inner).unwrap_or_default(),
            phone: d.phone.map(Spanned::into_inner).unwrap_or_default(),
            liaison_mobile: d.liaison_mobile.map(Spanned::into_inner).unwrap_or_default(),
        })
        .collect();
    CheckedDepartments { departments, by_code }
}

/// Where a place word was first seen, for the "used twice" message.
struct WordUse {
    line: usize,
    role: String,
}

fn check_regions(
    src: &Source,
    file: RegionsFile,
    departments: Option<&CheckedDepartments>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Street> {
    let mut street_codes: HashMap<String, usize> = HashMap::new();
    let mut community_codes: HashMap<String, usize> = HashMap::new();
    let mut offices: HashMap<String, (usize, String)> = HashMap::new();
    let mut committees: HashMap<String, (usize, String)> = HashMap::new();
    let mut words: HashMap<String, WordUse> = HashMap::new();

    let mut note_word = |word: &Spanned<String>, role: String, diags: &mut Vec<Diagnostic>| {
        let text = word.get_ref();
        if text.trim().is_empty() {
            diags.push(src.error(&word.span(), format!("empty place name ({role})")));
        } else if text.chars().any(char::is_whitespace) {
            // `locate` ignores whitespace in addresses, so a word containing some never matches.
            diags.push(src.error(&word.span(), format!("place name \"{text}\" contains whitespace ({role})")));
        } else if let Some(first) = words.get(text) {
            diags.push(src.error(
                &word.span(),
                format!("place name \"{text}\" is used twice: {} on line {}, and {role}", first.role, first.line),
            ));
        } else {
            words.insert(text.clone(), WordUse { line: src.line(&word.span()), role });
        }
    };

    for street in &file.street {
        let code = street.code.get_ref();
        if !valid_code(code) {
            diags.push(src.error(
                &street.code.span(),
                format!("street code \"{code}\" is not valid: use lowercase ascii letters, digits and '-'"),
            ));
        }
        if let Some(&line) = street_codes.get(code) {
            diags.push(
                src.error(&street.code.span(), format!("duplicate street code \"{code}\" (first on line {line})")),
            );
        } else {
            street_codes.insert(code.clone(), src.line(&street.code.span()));
        }
        check_name(src, &format!("street \"{code}\""), &street.name, diags);
        note_word(&street.name, format!("name of street \"{code}\""), diags);
        for road in &street.roads {
            note_word(road, format!("road of street \"{code}\""), diags);
        }
        for landmark in &street.landmarks {
            note_word(landmark, format!("landmark of street \"{code}\""), diags);
        }
        for alias in &street.aliases {
            note_word(alias, format!("alias of street \"{code}\""), diags);
        }

        let office = street.office.get_ref();
        if let Some((line, other)) = offices.get(office) {
            diags.push(src.error(
                &street.office.span(),
                format!("street office \"{office}\" already serves street \"{other}\" (line {line})"),
            ));
        } else {
            offices.insert(office.clone(), (src.line(&street.office.span()), code.clone()));
        }
        // Whether the office is a real street office, so its communities can be checked against it.
        let mut office_ok = false;
        if let Some(deps) = departments {
            match deps.by_code.get(office).map(|&i| &deps.departments[i]) {
                None => diags.push(src.error(
                    &street.office.span(),
                    format!("street \"{code}\": office \"{office}\" is not a known department"),
                )),
                Some(d) if d.kind != DepartmentKind::Street => diags.push(src.error(
                    &street.office.span(),
                    format!(
                        "street \"{code}\": office \"{office}\" is of kind \"{}\", not \"street\"",
                        d.kind.as_str()
                    ),
                )),
                Some(_) => office_ok = true,
            }
        }

        for community in &street.communities {
            let ccode = community.code.get_ref();
            if !valid_code(ccode) {
                diags.push(src.error(
                    &community.code.span(),
                    format!("community code \"{ccode}\" is not valid: use lowercase ascii letters, digits and '-'"),
                ));
            }
            if let Some(&line) = community_codes.get(ccode) {
                diags.push(src.error(
                    &community.code.span(),
                    format!("duplicate community code \"{ccode}\" (first on line {line})"),
                ));
            } else {
                community_codes.insert(ccode.clone(), src.line(&community.code.span()));
            }
            check_name(src, &format!("community \"{ccode}\""), &community.name, diags);
            note_word(&community.name, format!("name of community \"{ccode}\""), diags);
            for estate in &community.estates {
                note_word(estate, format!("estate of community \"{ccode}\""), diags);
            }
            for alias in &community.aliases {
                note_word(alias, format!("alias of community \"{ccode}\""), diags);
            }

            let committee = community.department.get_ref();
            if let Some((line, other)) = committees.get(committee) {
                diags.push(src.error(
                    &community.department.span(),
                    format!("department \"{committee}\" already serves community \"{other}\" (line {line})"),
                ));
            } else {
                committees.insert(committee.clone(), (src.line(&community.department.span()), ccode.clone()));
            }
            if let Some(deps) = departments {
                match deps.by_code.get(committee).map(|&i| &deps.departments[i]) {
                    None => diags.push(src.error(
                        &community.department.span(),
                        format!("community \"{ccode}\": department \"{committee}\" is not a known department"),
                    )),
                    Some(d) if d.kind != DepartmentKind::Community => diags.push(src.error(
                        &community.department.span(),
                        format!(
                            "community \"{ccode}\": department \"{committee}\" is of kind \"{}\", not \"community\"",
                            d.kind.as_str()
                        ),
                    )),
                    // Passing a ticket down (街道 → 社区) follows the tree, so the committee
                    // must sit below the office of the street it belongs to.
                    Some(d) if office_ok && d.parent.as_deref() != Some(office.as_str()) => diags.push(src.error(
                        &community.department.span(),
                        format!(
                            "community \"{ccode}\": department \"{committee}\" has parent \"{}\" in departments.toml, \
                             but its street's office is \"{office}\"",
                            d.parent.as_deref().unwrap_or("")
                        ),
                    )),
                    Some(_) => {}
                }
            }
        }
    }

    let into_strings = |v: Vec<Spanned<String>>| v.into_iter().map(Spanned::into_inner).collect::<Vec<_>>();
    file.street
        .into_iter()
        .map(|s| Street {
            code: s.code.into_inner(),
            name: s.name.into_inner(),
            office: s.office.into_inner(),
            roads: into_strings(s.roads),
            landmarks: into_strings(s.landmarks),
            aliases: into_strings(s.aliases),
            communities: s
                .communities
                .into_iter()
                .map(|c| Community {
                    code: c.code.into_inner(),
                    name: c.name.into_inner(),
                    department: c.department.into_inner(),
                    estates: into_strings(c.estates),
                    aliases: into_strings(c.aliases),
                })
                .collect(),
        })
        .collect()
}

fn check_categories(src: &Source, file: CategoriesFile, diags: &mut Vec<Diagnostic>) -> Vec<Category> {
    let raw = file.category;
    let mut by_code: HashMap<&str, usize> = HashMap::new();
    for (i, c) in raw.iter().enumerate() {
        let code = c.code.get_ref();
        if !valid_category_code(code) {
            diags.push(src.error(
                &c.code.span(),
                format!("category code \"{code}\" is not valid: use numbers separated by dots, e.g. \"03.02.01\""),
            ));
        }
        if let Some(&first) = by_code.get(code.as_str()) {
            let line = src.line(&raw[first].code.span());
            diags.push(src.error(&c.code.span(), format!("duplicate category code \"{code}\" (first on line {line})")));
        } else {
            by_code.insert(code, i);
        }
        check_name(src, &format!("category \"{code}\""), &c.name, diags);
        check_category_words(src, code, &c.words, diags);
    }
    for c in &raw {
        let code = c.code.get_ref();
        if let Some((parent, _)) = code.rsplit_once('.') {
            if !by_code.contains_key(parent) {
                diags.push(
                    src.error(&c.code.span(), format!("category \"{code}\" has no parent category \"{parent}\"")),
                );
            }
        }
    }
    raw.into_iter()
        .map(|c| Category {
            code: c.code.into_inner(),
            name: c.name.into_inner(),
            words: c.words.into_iter().map(Spanned::into_inner).collect(),
            photo_required: c.photo_required,
        })
        .collect()
}

/// A category's `words`: each two or more characters without spaces (they are looked for in
/// what callers say, and one character is found in too many calls), none listed twice.
fn check_category_words(src: &Source, code: &str, words: &[Spanned<String>], diags: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for word in words {
        let text = word.get_ref().as_str();
        if text.chars().any(char::is_whitespace) || text.chars().count() < 2 {
            diags.push(src.error(
                &word.span(),
                format!("category \"{code}\": word \"{text}\" must be two or more characters without spaces"),
            ));
        } else if let Some(&line) = seen.get(text) {
            diags.push(src.error(
                &word.span(),
                format!("category \"{code}\": word \"{text}\" is listed twice (first on line {line})"),
            ));
        } else {
            seen.insert(text, src.line(&word.span()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPARTMENTS: &str = include_str!("../../dispatch_rules/departments.toml");
    const REGIONS: &str = include_str!("../../dispatch_rules/regions.toml");
    const CATEGORIES: &str = include_str!("../../dispatch_rules/categories.toml");

    fn shipped() -> District {
        District::parse(("departments.toml", DEPARTMENTS), ("regions.toml", REGIONS), ("categories.toml", CATEGORIES))
            .unwrap_or_else(|d| panic!("{}", d.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")))
    }

    /// A tiny valid district to break one piece at a time.
    const MINI_DEPARTMENTS: &str = r#"[[department]]
code = "centre"
name = "热线中心"
kind = "centre"

[[department]]
code = "cgw"
name = "区城管委"
kind = "bureau"

[[department]]
code = "cgw-zfd"
name = "城管执法队"
kind = "unit"
parent = "cgw"

[[department]]
code = "jd-a"
name = "甲街道办事处"
kind = "street"

[[department]]
code = "sq-a-01"
name = "甲一社区居委会"
kind = "community"
parent = "jd-a"
"#;

    const MINI_REGIONS: &str = r#"[[street]]
code = "a"
name = "甲街道"
office = "jd-a"
roads = ["甲路", "甲东路"]
landmarks = ["甲公园"]

  [[street.community]]
  code = "a-01"
  name = "甲一社区"
  department = "sq-a-01"
  estates = ["甲一小区", "甲路小区"]
"#;

    const MINI_CATEGORIES: &str = r#"[[category]]
code = "01"
name = "城乡建设"

[[category]]
code = "01.01"
name = "市容环卫"

[[category]]
code = "01.01.01"
name = "垃圾清运"
"#;

    fn mini(departments: &str, regions: &str, categories: &str) -> Result<District, Vec<Diagnostic>> {
        District::parse(("departments.toml", departments), ("regions.toml", regions), ("categories.toml", categories))
    }

    /// The single error `parse` reports, as (file, line, message).
    fn only_error(result: Result<District, Vec<Diagnostic>>) -> (String, usize, String) {
        let diags = result.expect_err("expected a diagnostic");
        assert_eq!(diags.len(), 1, "expected one diagnostic, got {diags:#?}");
        let d = &diags[0];
        assert_eq!(d.severity, Severity::Error);
        (d.file.clone(), d.line, d.message.clone())
    }

    #[test]
    fn shipped_files_parse_without_errors() {
        let district = shipped();
        assert_eq!(district.departments.len(), District::demo().departments.len());
    }

    #[test]
    fn shipped_counts() {
        let district = shipped();
        let count = |kind| district.departments.iter().filter(|d| d.kind == kind).count();
        assert_eq!(count(DepartmentKind::Centre), 1);
        assert!(count(DepartmentKind::Bureau) >= 22);
        assert!(count(DepartmentKind::Utility) >= 4);
        assert_eq!(count(DepartmentKind::Street), 15);
        assert!(district.departments.iter().filter(|d| d.kind != DepartmentKind::Community).count() >= 40);
        assert_eq!(district.streets.len(), 15);
        for street in &district.streets {
            assert!(street.roads.len() >= 4, "{}", street.code);
            assert!(street.landmarks.len() >= 2, "{}", street.code);
            assert!((3..=5).contains(&street.communities.len()), "{}", street.code);
            for c in &street.communities {
                assert!(c.estates.len() >= 2, "{}", c.code);
            }
        }
        assert_eq!(count(DepartmentKind::Community), district.communities().count());
        let leaves = district.leaf_categories().count();
        assert!((90..=130).contains(&leaves), "{leaves} leaf categories");
        assert!(district.leaf_categories().all(|c| c.level() == 3));
    }

    #[test]
    fn shipped_tree_connects_streets_and_communities() {
        let district = shipped();
        for street in &district.streets {
            let office = district.street_office(&street.code).unwrap();
            assert_eq!(office.kind, DepartmentKind::Street);
            for c in &street.communities {
                assert!(district.is_within(&c.department, &office.code));
            }
        }
        assert_eq!(district.centre().unwrap().code, "centre");
    }

    #[test]
    fn locate_finds_street_and_community() {
        let district = shipped();
        let loc = district.locate("新华街道新华里小区3号楼东侧").unwrap();
        assert_eq!(loc.street, "xinhua");
        assert_eq!(loc.community.as_deref(), Some("xinhua-01"));
        assert_eq!(loc.matched_word, "新华里小区");

        // A road gives the street only.
        let loc = district.locate("滨河北路与闸口路交叉口").unwrap();
        assert_eq!((loc.street.as_str(), loc.community), ("binhe", None));

        // The longer word wins: the estate named after the university, not the university.
        let loc = district.locate("海川大学家属院7号楼").unwrap();
        assert_eq!(loc.community.as_deref(), Some("taoyuan-04"));
        let loc = district.locate("海川大学南门").unwrap();
        assert_eq!((loc.street.as_str(), loc.community, loc.matched_word.as_str()), ("taoyuan", None, "海川大学"));

        // An estate anywhere in the text beats a road or street name, even a longer one.
        let loc = district.locate("人民路东口，解放里小区北门").unwrap();
        assert_eq!(loc.community.as_deref(), Some("jianshe-04"));
        let loc = district.locate("长青街道长青苑19号楼").unwrap();
        assert_eq!((loc.community.as_deref(), loc.matched_word.as_str()), (Some("changqing-01"), "长青苑"));
        let loc = district.locate("区国际会展中心对面灯塔里").unwrap();
        assert_eq!(loc.community.as_deref(), Some("wanghai-04"));

        // Whitespace typed into the address does not hide a word.
        assert_eq!(district.locate("槐荫 雅苑 2号楼").unwrap().community.as_deref(), Some("nanyuan-02"));

        assert_eq!(district.locate("某某市某某路100号"), None);
        assert_eq!(district.locate(""), None);
    }

    #[test]
    fn locate_prefers_earlier_match_of_same_length() {
        let district = mini(MINI_DEPARTMENTS, MINI_REGIONS, MINI_CATEGORIES).unwrap();
        // "甲东路" and "甲公园" are both three characters; the earlier one wins.
        let loc = district.locate("甲公园对面甲东路").unwrap();
        assert_eq!(loc.matched_word, "甲公园");
        // "甲路小区" (estate) is longer than the road "甲路" it contains.
        let loc = district.locate("甲路小区").unwrap();
        assert_eq!(loc.community.as_deref(), Some("a-01"));
    }

    #[test]
    fn every_shipped_place_word_locates_its_own_street() {
        let district = shipped();
        for street in &district.streets {
            for word in street.roads.iter().chain(&street.landmarks) {
                let loc = district.locate(word).unwrap();
                assert_eq!(loc.street, street.code, "{word}");
            }
            for c in &street.communities {
                for estate in &c.estates {
                    let loc = district.locate(&format!("{estate}5号楼2单元")).unwrap();
                    assert_eq!(loc.community.as_deref(), Some(c.code.as_str()), "{estate}");
                }
            }
        }
    }

    #[test]
    fn descendants_and_is_within() {
        let district = shipped();
        let below = district.descendants("jd-xinhua");
        assert_eq!(below[0], "jd-xinhua");
        assert!(below.contains(&"sq-xinhua-01"));
        assert_eq!(below.len(), 1 + district.street("xinhua").unwrap().communities.len());
        assert_eq!(district.descendants("cgw"), vec!["cgw", "cgw-hwzx", "cgw-szs"]);
        assert_eq!(district.descendants("centre"), vec!["centre"]);
        assert!(district.descendants("nope").is_empty());

        assert!(district.is_within("sq-xinhua-01", "jd-xinhua"));
        assert!(district.is_within("jd-xinhua", "jd-xinhua"));
        assert!(!district.is_within("jd-xinhua", "sq-xinhua-01"));
        assert!(!district.is_within("sq-binhe-01", "jd-xinhua"));
        assert!(!district.is_within("nope", "nope"));
        assert_eq!(district.children("scjg").len(), 3);
    }

    #[test]
    fn categories_paths_and_leaves() {
        let district = shipped();
        assert_eq!(district.category_path("01.01.01").as_deref(), Some("城乡建设 / 市容环卫 / 垃圾清运"));
        assert_eq!(district.category_path("01").as_deref(), Some("城乡建设"));
        assert_eq!(district.category_path("99"), None);
        assert!(district.is_leaf_category("01.01.01"));
        assert!(!district.is_leaf_category("01.01"));
        assert!(!district.is_leaf_category("99.99.99"));
        let c = district.category("01.01.01").unwrap();
        assert_eq!((c.level(), c.parent_code()), (3, Some("01.01")));
        assert!(c.is_within("01") && c.is_within("01.01") && !c.is_within("01.0"));
        assert!(!code_is_within("01.011", "01.01"));
    }

    #[test]
    fn mini_district_parses() {
        let district = mini(MINI_DEPARTMENTS, MINI_REGIONS, MINI_CATEGORIES).unwrap();
        assert_eq!(district.department("cgw-zfd").unwrap().short_name, "城管执法队");
        assert_eq!(district.street_office("a").unwrap().code, "jd-a");
        assert_eq!(district.community_department("a-01").unwrap().code, "sq-a-01");
    }

    #[test]
    fn toml_syntax_error_has_its_line() {
        let bad = MINI_CATEGORIES.replace("name = \"市容环卫\"", "name = \"市容环卫");
        let (file, line, _) = only_error(mini(MINI_DEPARTMENTS, MINI_REGIONS, &bad));
        assert_eq!((file.as_str(), line), ("categories.toml", 7));
    }

    #[test]
    fn unknown_field_is_an_error() {
        let bad = MINI_DEPARTMENTS.replace("kind = \"bureau\"", "kind = \"bureau\"\nmanager = \"张三\"");
        let (file, line, message) = only_error(mini(&bad, MINI_REGIONS, MINI_CATEGORIES));
        assert_eq!((file.as_str(), line), ("departments.toml", 10));
        assert!(message.contains("manager"), "{message}");
    }

    #[test]
    fn every_table_with_an_unknown_or_missing_field_is_reported() {
        let bad = MINI_DEPARTMENTS
            .replace("kind = \"bureau\"", "kind = \"bureau\"\nmanager = \"张三\"")
            .replace("name = \"甲街道办事处\"\n", "");
        let diags = mini(&bad, MINI_REGIONS, MINI_CATEGORIES).unwrap_err();
        let at: Vec<usize> = diags.iter().map(|d| d.line).collect();
        assert_eq!(at, vec![10, 18], "{diags:#?}");
        assert!(diags[1].message.contains("name"), "{}", diags[1].message);
    }

    #[test]
    fn unknown_kind_is_an_error() {
        let bad = MINI_DEPARTMENTS.replace("kind = \"bureau\"", "kind = \"office\"");
        let (_, line, _) = only_error(mini(&bad, MINI_REGIONS, MINI_CATEGORIES));
        assert_eq!(line, 9);
    }

    #[test]
    fn bad_codes_are_errors() {
        let bad = MINI_DEPARTMENTS
            .replace("code = \"cgw\"", "code = \"CGW\"")
            .replace("parent = \"cgw\"", "parent = \"CGW\"");
        let (_, line, message) = only_error(mini(&bad, MINI_REGIONS, MINI_CATEGORIES));
        assert_eq!(line, 7);
        assert!(message.contains("not valid"), "{message}");

        let bad = MINI_CATEGORIES.replace("code = \"01.01.01\"", "code = \"01.01.x\"");
        let (file, line, _) = only_error(mini(MINI_DEPARTMENTS, MINI_REGIONS, &bad));
        assert_eq!((file.as_str(), line), ("categories.toml", 10));

        let bad = MINI_REGIONS.replace("code = \"a-01\"", "code = \"a_01\"");
        let (file, line, _) = only_error(mini(MINI_DEPARTMENTS, &bad, MINI_CATEGORIES));
        assert_eq!((file.as_str(), line), ("regions.toml", 9));
    }

    #[test]
    fn duplicate_codes_are_errors() {
        let bad = format!("{MINI_DEPARTMENTS}\n[[department]]\ncode = \"cgw\"\nname = \"又一个\"\nkind = \"bureau\"\n");
        let (_, line, message) = only_error(mini(&bad, MINI_REGIONS, MINI_CATEGORIES));
        assert_eq!(line, 29);
        assert!(message.contains("first on line 7"), "{message}");

        let bad = format!("{MINI_CATEGORIES}\n[[category]]\ncode = \"01.01\"\nname = \"重复\"\n");
        let (_, line, message) = only_error(mini(MINI_DEPARTMENTS, MINI_REGIONS, &bad));
        assert_eq!(line, 14);
        assert!(message.contains("first on line 6"), "{message}");
    }

    #[test]
    fn unknown_references_are_errors() {
        let bad = MINI_DEPARTMENTS.replace("parent = \"cgw\"", "parent = \"cgwx\"");
        let (file, line, message) = only_error(mini(&bad, MINI_REGIONS, MINI_CATEGORIES));
        assert_eq!((file.as_str(), line), ("departments.toml", 15));
        assert!(message.contains("cgwx"), "{message}");

        let bad = MINI_REGIONS.replace("office = \"jd-a\"", "office = \"jd-b\"");
        let (file, line, _) = only_error(mini(MINI_DEPARTMENTS, &bad, MINI_CATEGORIES));
        assert_eq!((file.as_str(), line), ("regions.toml", 4));

        let bad = MINI_REGIONS.replace("department = \"sq-a-01\"", "department = \"sq-a-09\"");
        let (file, line, _) = only_error(mini(MINI_DEPARTMENTS, &bad, MINI_CATEGORIES));
        assert_eq!((file.as_str(), line), ("regions.toml", 11));
    }

    #[test]
    fn wrong_kinds_in_regions_are_errors() {
        let bad = MINI_REGIONS.replace("office = \"jd-a\"", "office = \"cgw\"");
        let (_, line, message) = only_error(mini(MINI_DEPARTMENTS, &bad, MINI_CATEGORIES));
        assert_eq!(line, 4);
        assert!(message.contains("bureau"), "{message}");
    }

    #[test]
    fn cycles_are_errors() {
        let bad = MINI_DEPARTMENTS.replace("kind = \"bureau\"", "kind = \"bureau\"\nparent = \"cgw-zfd\"");
        let (_, line, message) = only_error(mini(&bad, MINI_REGIONS, MINI_CATEGORIES));
        assert_eq!(line, 10);
        assert!(message.contains("cgw → cgw-zfd → cgw"), "{message}");

        let bad = MINI_DEPARTMENTS.replace("kind = \"centre\"", "kind = \"centre\"\nparent = \"centre\"");
        let (_, line, message) = only_error(mini(&bad, MINI_REGIONS, MINI_CATEGORIES));
        assert_eq!(line, 5);
        assert!(message.contains("centre → centre"), "{message}");
    }

    #[test]
    fn missing_category_parent_is_an_error() {
        let bad = MINI_CATEGORIES.replace("code = \"01.01\"", "code = \"01.02\"");
        let (_, line, message) = only_error(mini(MINI_DEPARTMENTS, MINI_REGIONS, &bad));
        assert_eq!(line, 10);
        assert!(message.contains("\"01.01\""), "{message}");
    }

    #[test]
    fn category_words_are_checked_with_their_line() {
        let good = format!("{MINI_CATEGORIES}words = [\"垃圾\", \"清运\"]\n");
        let district = mini(MINI_DEPARTMENTS, MINI_REGIONS, &good).unwrap();
        assert_eq!(district.category("01.01.01").unwrap().words, ["垃圾", "清运"]);
        let twice = format!("{MINI_CATEGORIES}words = [\n  \"垃圾\",\n  \"垃圾\",\n]\n");
        let (file, line, message) = only_error(mini(MINI_DEPARTMENTS, MINI_REGIONS, &twice));
        assert_eq!((file.as_str(), line), ("categories.toml", 14));
        assert!(message.contains("listed twice (first on line 13)"), "{message}");
        let short = format!("{MINI_CATEGORIES}words = [\"垃\"]\n");
        let (_, line, message) = only_error(mini(MINI_DEPARTMENTS, MINI_REGIONS, &short));
        assert_eq!(line, 12);
        assert!(message.contains("two or more characters"), "{message}");
    }

    #[test]
    fn aliases_locate_like_place_words_and_must_be_unique() {
        let regions =
            MINI_REGIONS.replace("landmarks = [\"甲公园\"]", "landmarks = [\"甲公园\"]\naliases = [\"甲街\"]").replace(
                "estates = [\"甲一小区\", \"甲路小区\"]",
                "estates = [\"甲一小区\", \"甲路小区\"]\n  aliases = [\"老甲一\"]",
            );
        let district = mini(MINI_DEPARTMENTS, &regions, MINI_CATEGORIES).unwrap();
        assert_eq!(district.locate("甲街那边").unwrap().street, "a");
        assert_eq!(district.locate("老甲一3号楼").unwrap().community.as_deref(), Some("a-01"));
        let clash = regions.replace("aliases = [\"甲街\"]", "aliases = [\"甲公园\"]");
        let (_, _, message) = only_error(mini(MINI_DEPARTMENTS, &clash, MINI_CATEGORIES));
        assert!(message.contains("alias of street"), "{message}");
    }

    #[test]
    fn place_word_used_twice_is_an_error() {
        let bad = MINI_REGIONS.replace("landmarks = [\"甲公园\"]", "landmarks = [\"甲公园\", \"甲一小区\"]");
        let (_, line, message) = only_error(mini(MINI_DEPARTMENTS, &bad, MINI_CATEGORIES));
        assert_eq!(line, 12);
        assert!(message.contains("landmark of street \"a\" on line 6"), "{message}");
    }

    #[test]
    fn community_below_another_street_is_an_error() {
        let deps = format!(
            "{MINI_DEPARTMENTS}\n[[department]]\ncode = \"jd-b\"\nname = \"乙街道办事处\"\nkind = \"street\"\n"
        )
        .replace("parent = \"jd-a\"", "parent = \"jd-b\"");
        let (file, line, _) = only_error(mini(&deps, MINI_REGIONS, MINI_CATEGORIES));
        assert_eq!((file.as_str(), line), ("regions.toml", 11));
    }

    #[test]
    fn all_errors_are_collected_in_file_order() {
        let deps = MINI_DEPARTMENTS.replace("parent = \"cgw\"", "parent = \"nope\"");
        let regions = MINI_REGIONS.replace("roads = [\"甲路\", \"甲东路\"]", "roads = [\"甲路\", \"甲路\"]");
        let cats = MINI_CATEGORIES.replace("code = \"01\"\n", "code = \"00\"\n");
        let diags = mini(&deps, &regions, &cats).unwrap_err();
        let at: Vec<(&str, usize)> = diags.iter().map(|d| (d.file.as_str(), d.line)).collect();
        assert_eq!(at, vec![("departments.toml", 15), ("regions.toml", 5), ("categories.toml", 6)]);
        assert!(diags[0].to_string().starts_with("departments.toml:15:10: error:"), "{}", diags[0]);
    }

    #[test]
    fn a_broken_file_does_not_produce_false_reference_errors() {
        let diags = mini("[[department]\n", MINI_REGIONS, MINI_CATEGORIES).unwrap_err();
        assert_eq!(diags.len(), 1, "{diags:#?}");
        assert_eq!(diags[0].file, "departments.toml");
    }
}
