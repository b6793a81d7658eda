use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};

use super::matching::NO_MATCH;
use super::*;

const POLICIES: [&str; 4] = ["urgent", "utility", "general", "complex"];

fn district() -> District {
    District::demo()
}

/// The shipped `dispatch_rules/rules/*.toml`, read from the source tree (tests only).
fn shipped_files() -> Vec<(String, String)> {
    let candidates = [
        Path::new(file!()).ancestors().nth(4).map(|root| root.join("dispatch_rules/rules")),
        option_env!("CARGO_MANIFEST_DIR").map(|root| PathBuf::from(root).join("dispatch_rules/rules")),
    ];
    let dir = candidates.into_iter().flatten().find(|d| d.is_dir()).expect("dispatch_rules/rules exists");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("readable rules dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| {
            let name = p.file_name().expect("file name").to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).expect("readable rule file"))
        })
        .collect();
    files.sort();
    files
}

/// The shipped guards, phrase lists and search words, with the segmentation search uses.
pub(super) fn shipped_vocabulary() -> Vocabulary {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("dispatch_rules");
    let words = crate::domain::search_words::parse(
        "search_words.txt",
        &std::fs::read_to_string(root.join("search_words.txt")).expect("search words"),
    )
    .expect("the shipped search words load");
    let segmenter = std::sync::Arc::new(crate::search::segment::Segmenter::new(words));
    crate::catalog::vocabulary(&root, segmenter)
}

/// The shipped rules alone: these tests are of the rules. The second opinion learned from the
/// labelled calls is tested in `learned.rs`, `tests/routing_eval.rs` and `tests/emergency.rs`.
fn shipped(district: &District) -> RuleSet {
    let mut set = shipped_with_learning(district);
    set.learn(&[]);
    set
}

fn shipped_with_learning(district: &District) -> RuleSet {
    let (set, warnings) =
        RuleSet::load(&shipped_files(), &shipped_vocabulary(), district, &POLICIES).unwrap_or_else(|diags| {
            let lines: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
            panic!("shipped rules do not load:\n{}", lines.join("\n"))
        });
    assert!(warnings.is_empty(), "{}", warnings.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"));
    set
}

fn load(files: &[(&str, &str)]) -> RuleSet {
    let files: Vec<(String, String)> = files.iter().map(|(n, s)| (n.to_string(), s.to_string())).collect();
    match RuleSet::load(&files, &Vocabulary::plain(), &district(), &POLICIES) {
        Ok((set, warnings)) if warnings.is_empty() => set,
        Ok((_, warnings)) => panic!("unexpected warnings: {warnings:?}"),
        Err(diags) => panic!("unexpected errors: {diags:?}"),
    }
}

fn one(source: &str) -> RuleSet {
    load(&[("test.toml", source)])
}

/// The diagnostics of a one-file set that is expected to be wrong (errors or warnings).
fn diagnostics(source: &str) -> Vec<String> {
    let files = vec![("bad.toml".to_string(), source.to_string())];
    match RuleSet::load(&files, &Vocabulary::plain(), &district(), &POLICIES) {
        Ok((_, warnings)) => warnings.iter().map(|d| d.to_string()).collect(),
        Err(diags) => diags.iter().map(|d| d.to_string()).collect(),
    }
}

/// 2026-03-04 (a Wednesday) at the given Beijing time.
fn at(hour: u32, minute: u32) -> chrono::DateTime<Utc> {
    let local = chrono::FixedOffset::east_opt(8 * 3600).unwrap().with_ymd_and_hms(2026, 3, 4, hour, minute, 0).unwrap();
    local.with_timezone(&Utc)
}

fn ticket(category: &'static str, content: &'static str) -> RoutingInput<'static> {
    RoutingInput {
        kind: "complaint",
        category,
        content,
        address: "",
        street: None,
        community: None,
        channel: "phone",
        urgency: "normal",
        received_at: at(10, 0),
    }
}

fn routed_by(set: &RuleSet, input: &RoutingInput) -> Option<String> {
    let d = district();
    let routing = set.route(input, &d);
    let explained = set.explain(input, &d);
    assert_eq!(routing, explained.decision, "route and explain disagree");
    routing.decision().map(|d| d.rule_id.clone())
}

/// The emergency `set` proposes for a call filed under `category` (its label), if any.
fn proposed_label(set: &RuleSet, d: &District, category: &'static str, content: &'static str) -> Option<String> {
    set.route(&ticket(category, content), d).decision().and_then(|d| d.emergency.clone()).map(|p| p.label)
}

fn rule(id: &str, when: &str, lead: &str) -> String {
    format!("[[rule]]\nid = \"{id}\"\n[rule.when]\n{when}\n[rule.then]\nlead = \"{lead}\"\npolicy = \"general\"\n\n")
}

// ── the shipped catalogue ──

#[test]
fn shipped_catalogue_loads_without_errors_or_warnings() {
    let set = shipped(&district());
    assert!(set.len() >= 150, "only {} rules", set.len());
    assert_eq!(set.version().len(), 64);
}

/// Leaf categories that have no default on purpose: a plain ticket goes to manual dispatch.
const MANUAL_BY_DESIGN: [&str; 1] = ["14.02.01"];

#[test]
fn shipped_catalogue_covers_every_category_and_street() {
    let d = district();
    let set = shipped(&d);
    // Every category of every level is named, or lies below or above one that is.
    let prefixes: Vec<&str> =
        set.rules.iter().flat_map(|r| r.when.category.iter().flatten()).map(String::as_str).collect();
    for category in &d.categories {
        let covered = prefixes.iter().any(|p| code_is_within(&category.code, p) || code_is_within(p, &category.code));
        assert!(covered, "no rule for category {} {}", category.code, category.name);
    }
    // Every leaf routes a plain ticket on every street, save the ones left to dispatchers.
    for leaf in d.leaf_categories() {
        for street in &d.streets {
            let mut input = ticket("", "市民来电反映相关问题，请尽快处理。");
            input.category = &leaf.code;
            input.street = Some(&street.code);
            let routing = set.route(&input, &d);
            let manual = MANUAL_BY_DESIGN.contains(&leaf.code.as_str());
            assert_eq!(
                routing.decision().is_none(),
                manual,
                "{} {} on {}: {routing:?}",
                leaf.code,
                leaf.name,
                street.code
            );
        }
    }
    // Every street has an arrangement of its own.
    for street in &d.streets {
        let named = set.rules.iter().any(|r| r.when.street.iter().flatten().any(|s| *s == street.code));
        assert!(named, "no rule names street {}", street.code);
    }
}

#[test]
fn shipped_catalogue_routes_typical_tickets() {
    let d = district();
    let set = shipped(&d);
    let cases: [(&str, &str, &str, &str); 8] = [
        ("03.03.01", "楼道里有很浓的燃气味，怀疑燃气泄漏", "新华里小区3号楼", "ranqi"),
        ("04.01.02", "工地夜间施工噪音扰民，已经连续一周", "南苑路88号", "sthj-zfd"),
        ("07.01.02", "工地包工头拖欠农民工工资三个月", "金桥科技园", "rsj-ldjc"),
        ("03.01.01", "小区突然停水，没有任何通知", "滨河小区", "gongshui"),
        ("01.01.04", "商贩占道经营堵塞人行道", "南苑路口", "jd-nanyuan"),
        ("01.01.04", "商贩占道经营堵塞人行道", "新华路口", "cgzf-zsd"),
        ("06.02.01", "饭店后厨卫生很差", "观澜路12号", "scjg-haibin"),
        ("06.01.01", "健身房关门跑路，预付卡无法退费", "兴业商贸城", "scjg"),
    ];
    for (category, content, address, lead) in cases {
        let input = RoutingInput { address, received_at: at(23, 30), ..ticket(category, content) };
        let routing = set.route(&input, &d);
        let decision = routing.decision().unwrap_or_else(|| panic!("{content}: {routing:?}"));
        assert_eq!(decision.lead, lead, "{content}: {decision:?}");
    }
}

#[test]
fn shipped_emergencies_stay_specific() {
    let d = district();
    let set = shipped(&d);
    let lead = |input: RoutingInput| set.route(&input, &d).decision().map(|d| (d.rule_id.clone(), d.lead.clone()));
    // Cooking fumes "冒烟" are not a fire.
    let fumes = RoutingInput {
        address: "南苑路5号", ..ticket("04.02.01", "楼下饭店排烟口一直冒烟，油烟很大")
    };
    assert_eq!(lead(fumes), Some(("cooking-fumes".into(), "cgzf".into())));
    // Thanks for a repaired leak is praise, not an emergency: it goes to the unit praised.
    let praise = RoutingInput { kind: "praise", ..ticket("14.01.02", "感谢燃气公司及时处理燃气泄漏") };
    assert_eq!(lead(praise.clone()), Some(("praise-gas".into(), "ranqi".into())));
    assert_eq!(set.route(&praise, &d).decision().and_then(|d| d.emergency.clone()), None);
    // The same words from a resident in danger are one.
    let leak = ticket("02.01.01", "楼道里闻到燃气味，很浓");
    let decision = set.route(&leak, &d).decision().cloned().unwrap();
    assert_eq!((decision.lead.as_str(), decision.policy.as_str()), ("ranqi", "urgent"));
    // Proposed for the operator to confirm, not set.
    assert_eq!(decision.urgency, None);
    assert_eq!(decision.emergency.map(|p| p.label).as_deref(), Some("燃气泄漏"));
}

// ── precedence ──

#[test]
fn priority_beats_specificity_which_beats_file_order() {
    let a = format!(
        "{}{}",
        rule("specific", "category = [\"03\"]\nkind = [\"complaint\"]\nchannel = [\"phone\"]", "gongshui"),
        rule("loud", "category = [\"03.01\"]", "gongdian").replace("id = \"loud\"", "id = \"loud\"\npriority = 10"),
    );
    let set = one(&a);
    assert_eq!(routed_by(&set, &ticket("03.01.01", "")).as_deref(), Some("loud"));

    let b = format!(
        "{}{}",
        rule("plain", "category = [\"03\"]", "gongshui"),
        rule("specific", "category = [\"03\"]\nkind = [\"complaint\"]", "gongdian"),
    );
    assert_eq!(routed_by(&one(&b), &ticket("03.01.01", "")).as_deref(), Some("specific"));

    // Same priority and specificity: file name order, then position in the file.
    let z = rule("in-z", "category = [\"03\"]", "gongshui");
    let a = format!(
        "{}{}",
        rule("in-a-first", "kind = [\"complaint\"]", "gongdian"),
        rule("in-a-second", "category = [\"03.01\"]", "ranqi")
    );
    let set = load(&[("z.toml", &z), ("a.toml", &a)]);
    assert_eq!(routed_by(&set, &ticket("03.01.01", "")).as_deref(), Some("in-a-first"));
    let order: Vec<&str> = set.rules().map(|r| r.id.as_str()).collect();
    assert_eq!(order, ["in-a-first", "in-a-second", "in-z"]);
}

// ── conditions ──

#[test]
fn each_condition_filters() {
    let source = [
        rule("kind", "kind = [\"consult\"]", "zwfw"),
        rule("category", "category = [\"03.02\"]", "gongdian"),
        rule("any", "keywords_any = [\"打桩\", \"施工\"]", "sthj"),
        rule("all", "keywords_all = [\"电梯\", \"困人\"]", "fgj"),
        rule("none", "keywords_none = [\"装修\"]\nkind = [\"report\"]", "cgzf"),
        rule("street", "street = [\"binhe\"]\nkind = [\"praise\"]", "jd-binhe"),
        rule("community", "community = [\"xinhua-02\"]\nkind = [\"praise\"]", "sq-xinhua-02"),
        rule("channel", "channel = [\"wechat\"]", "xfb"),
        rule("urgency", "urgency = [\"urgent\"]", "yjj"),
        rule("weekend", "weekdays = [\"sat\", \"sun\"]", "centre"),
    ]
    .concat();
    let set = one(&source);
    let route = |input: RoutingInput| routed_by(&set, &input);
    let base = ticket("14.02.01", "一般问题");
    assert_eq!(route(base.clone()), None);
    assert_eq!(route(RoutingInput { kind: "consult", ..base.clone() }).as_deref(), Some("kind"));
    assert_eq!(route(ticket("03.02.01", "")).as_deref(), Some("category"));
    assert_eq!(route(ticket("03.01.01", "")), None, "03.02 does not cover 03.01.01");
    assert_eq!(route(ticket("14.02.01", "门口在施工")).as_deref(), Some("any"));
    // Normalisation: full-width, case and whitespace do not matter.
    assert_eq!(route(ticket("14.02.01", "电 梯 又困人了")).as_deref(), Some("all"));
    assert_eq!(route(ticket("14.02.01", "电梯坏了")), None);
    let report = RoutingInput { kind: "report", ..ticket("14.02.01", "楼上装修") };
    assert_eq!(route(report.clone()), None);
    assert_eq!(route(RoutingInput { content: "楼上养鸡", ..report }).as_deref(), Some("none"));
    let praise = RoutingInput { kind: "praise", ..base.clone() };
    assert_eq!(route(RoutingInput { street: Some("binhe"), ..praise.clone() }).as_deref(), Some("street"));
    assert_eq!(route(RoutingInput { community: Some("xinhua-02"), ..praise.clone() }).as_deref(), Some("community"));
    assert_eq!(route(praise), None);
    assert_eq!(route(RoutingInput { channel: "wechat", ..base.clone() }).as_deref(), Some("channel"));
    assert_eq!(route(RoutingInput { urgency: "urgent", ..base.clone() }).as_deref(), Some("urgency"));
    let saturday = Utc.with_ymd_and_hms(2026, 3, 7, 2, 0, 0).unwrap();
    assert_eq!(route(RoutingInput { received_at: saturday, ..base }).as_deref(), Some("weekend"));
}

#[test]
fn once_the_content_is_read_only_rules_whose_words_occur_are_asked() {
    // The first rule reads the content; of the rules after it `route` asks only those one of
    // whose words occurs, or that need none. `routed_by` holds it to `explain`, which asks all.
    let source = [
        rule("reads", "keywords_any = [\"打桩\"]", "sthj").replace("id = \"reads\"", "id = \"reads\"\npriority = 9"),
        rule("all", "keywords_all = [\"噪音\", \"夜间\"]", "cgzf"),
        rule("later-phrase", "keywords_any = [\"渗水\", \"墙+裂\"]", "fgj"),
        rule("none-only", "keywords_none = [\"装修\"]\nkind = [\"report\"]", "cgzf"),
        rule("no-words", "kind = [\"praise\"]", "centre"),
    ]
    .concat();
    let set = one(&source);
    let route = |input: RoutingInput| routed_by(&set, &input);
    assert_eq!(route(ticket("14.02.01", "夜间噪音")).as_deref(), Some("all"));
    assert_eq!(route(ticket("14.02.01", "夜间施工")), None);
    assert_eq!(route(ticket("14.02.01", "墙上有裂缝")).as_deref(), Some("later-phrase"));
    let report = RoutingInput { kind: "report", ..ticket("14.02.01", "楼上养鸡") };
    assert_eq!(route(report.clone()).as_deref(), Some("none-only"));
    assert_eq!(route(RoutingInput { content: "楼上装修", ..report }), None);
    assert_eq!(route(RoutingInput { kind: "praise", ..ticket("14.02.01", "打电话") }).as_deref(), Some("no-words"));
}

#[test]
fn keywords_fold_case_width_and_space() {
    let set = one(&rule("wifi", "keywords_all = [\"WiFi信号\"]", "kxj"));
    assert_eq!(routed_by(&set, &ticket("03.04.01", "小区ＷＩＦＩ 信号很差")).as_deref(), Some("wifi"));
    assert_eq!(routed_by(&set, &ticket("03.04.01", "wi-fi信号")), None);
}

#[test]
fn time_windows_wrap_midnight_in_beijing_time() {
    let set = one(&rule("night", "time = { from = \"22:00\", to = \"06:00\" }", "sthj"));
    let at_time = |h, m| routed_by(&set, &RoutingInput { received_at: at(h, m), ..ticket("04.01.02", "") });
    assert_eq!(at_time(22, 0).as_deref(), Some("night"));
    assert_eq!(at_time(23, 59).as_deref(), Some("night"));
    assert_eq!(at_time(0, 0).as_deref(), Some("night"));
    assert_eq!(at_time(5, 59).as_deref(), Some("night"));
    assert_eq!(at_time(6, 0), None, "`to` is exclusive");
    assert_eq!(at_time(21, 59), None);
    assert_eq!(at_time(14, 0), None);
    // 15:30 UTC is 23:30 in Beijing.
    let utc = Utc.with_ymd_and_hms(2026, 3, 4, 15, 30, 0).unwrap();
    assert!(routed_by(&set, &RoutingInput { received_at: utc, ..ticket("04.01.02", "") }).is_some());

    let day = one(&rule("day", "time = { from = \"08:30\", to = \"17:30\" }", "sthj"));
    let at_day = |h, m| routed_by(&day, &RoutingInput { received_at: at(h, m), ..ticket("04.01.02", "") });
    assert!(at_day(8, 30).is_some() && at_day(17, 29).is_some());
    assert!(at_day(8, 29).is_none() && at_day(17, 30).is_none() && at_day(23, 0).is_none());
}

#[test]
fn street_office_lead_needs_a_street() {
    let source = [
        rule("to-street", "category = [\"01.01\"]", "street-office"),
        rule("fallback", "kind = [\"complaint\"]", "cgw"),
    ]
    .concat()
    .replace("lead = \"street-office\"", "lead = \"street-office\"\nassist = [\"cgzf\"]");
    let set = one(&source);
    let d = district();
    let input = RoutingInput { street: Some("dongguan"), ..ticket("01.01.04", "占道经营") };
    let decision = set.route(&input, &d).decision().cloned().unwrap();
    assert_eq!((decision.rule_id.as_str(), decision.lead.as_str()), ("to-street", "jd-dongguan"));
    assert_eq!(decision.assist, ["cgzf"]);
    assert_eq!(decision.street.as_deref(), Some("dongguan"));
    assert_eq!(decision.located_by, None);

    // No street picked and none in the text: the street-office rule steps aside.
    let nowhere = ticket("01.01.04", "占道经营");
    assert_eq!(routed_by(&set, &nowhere).as_deref(), Some("fallback"));
    let explained = set.explain(&nowhere, &d);
    let miss = explained.near_misses.iter().find(|m| m.rule_id == "to-street").unwrap();
    assert!(miss.failed[0].starts_with("lead = street-office"), "{miss:?}");
}

#[test]
fn assisting_street_office_is_dropped_without_a_street() {
    let source =
        rule("help", "category = [\"01\"]", "cgw").replace("policy", "assist = [\"street-office\", \"cgzf\"]\npolicy");
    let set = one(&source);
    let d = district();
    let without = set.route(&ticket("01.01.01", ""), &d);
    assert_eq!(without.decision().unwrap().assist, ["cgzf"]);
    let with = set.route(&RoutingInput { street: Some("haibin"), ..ticket("01.01.01", "") }, &d);
    assert_eq!(with.decision().unwrap().assist, ["jd-haibin", "cgzf"]);
}

#[test]
fn place_is_picked_or_located_from_text() {
    let set = one(&rule("community", "community = [\"binhe-03\"]", "sq-binhe-03"));
    let d = district();
    // An estate in the address gives its community and street.
    let input = RoutingInput { address: "水岸名居5号楼2单元", ..ticket("02.01.01", "") };
    let decision = set.route(&input, &d).decision().cloned().unwrap();
    assert_eq!(decision.street.as_deref(), Some("binhe"));
    assert_eq!(decision.community.as_deref(), Some("binhe-03"));
    assert_eq!(decision.located_by.as_deref(), Some("水岸名居"));
    let explained = set.explain(&input, &d);
    assert_eq!(explained.located.as_ref().map(|l| l.street.as_str()), Some("binhe"));

    // Nothing in the address: the content is tried.
    let input =
        RoutingInput { address: "不详", content: "我住沿河花园，楼下漏水", ..ticket("02.01.01", "") };
    assert_eq!(set.route(&input, &d).decision().unwrap().located_by.as_deref(), Some("沿河花园"));

    // The operator's pick wins over the text; a picked community implies its street.
    let input = RoutingInput { community: Some("binhe-03"), address: "新华里小区", ..ticket("02.01.01", "") };
    let decision = set.route(&input, &d).decision().cloned().unwrap();
    assert_eq!((decision.street.as_deref(), decision.located_by), (Some("binhe"), None));
    let input = RoutingInput { street: Some("xinhua"), address: "水岸名居", ..ticket("02.01.01", "") };
    assert!(set.route(&input, &d).decision().is_none());
}

#[test]
fn no_match_goes_to_manual_dispatch() {
    let set = one(&rule("water", "category = [\"03.01\"]", "gongshui"));
    let d = district();
    match set.route(&ticket("05.01.01", "红绿灯坏了"), &d) {
        Routing::Manual { reason } => assert!(reason.contains("人工派单")),
        other => panic!("{other:?}"),
    }
    let empty = RuleSet::load(&[], &Vocabulary::plain(), &d, &POLICIES).unwrap();
    assert_eq!(empty.1.len(), 1, "an empty set is worth a warning");
    assert!(empty.0.route(&ticket("03.01.01", ""), &d).decision().is_none());
}

// ── explain ──

#[test]
fn explain_names_the_failed_condition_of_near_misses() {
    let source = [
        rule(
            "night-noise",
            "category = [\"04.01\"]\nkeywords_any = [\"施工\", \"打桩\"]\ntime = { from = \"22:00\", to = \"06:00\" }",
            "sthj",
        ),
        rule("any-noise", "category = [\"04.01\"]\nkind = [\"complaint\"]", "cgzf"),
        rule("water", "category = [\"03.01\"]\nkind = [\"report\"]", "gongshui"),
    ]
    .concat();
    let set = one(&source);
    let d = district();
    let input = RoutingInput { received_at: at(23, 0), ..ticket("04.01.03", "楼下酒吧音乐太吵") };
    let e = set.explain(&input, &d);
    assert_eq!(e.winner.as_deref(), Some("any-noise"));
    assert_eq!(e.matched, ["any-noise"]);
    let miss = &e.near_misses[0];
    assert_eq!(miss.rule_id, "night-noise");
    assert_eq!(miss.failed, ["keywords_any: 内容中没有 施工/打桩"]);
    assert_eq!((miss.passed, miss.total), (2, 3));
    // The water rule failed twice but passed nothing: not a near miss.
    assert!(e.near_misses.iter().all(|m| m.rule_id != "water"));

    let day = RoutingInput { received_at: at(14, 5), ..ticket("04.01.02", "工地打桩") };
    let e = set.explain(&day, &d);
    let miss = e.near_misses.iter().find(|m| m.rule_id == "night-noise").unwrap();
    assert_eq!(miss.failed, ["time: 受理时间 14:05 不在 22:00–06:00 内"]);
    assert_eq!(e.received_local, "2026-03-04 14:05 wed");
}

// ── checks ──

fn assert_diag(source: &str, expected: &str) {
    let diags = diagnostics(source);
    assert!(diags.iter().any(|d| d.contains(expected)), "expected `{expected}` in {diags:#?}");
}

#[test]
fn unknown_codes_are_errors_at_the_value() {
    assert_diag(
        &rule("r", "category = [\"01\"]", "cgwx"),
        "bad.toml:6:8: error: lead: unknown department `cgwx`; did you mean `cgw`?",
    );
    assert_diag(
        &rule("r", "category = [\"01\", \"99.01\"]", "cgw"),
        "bad.toml:4:19: error: category: unknown category `99.01`",
    );
    assert_diag(
        &rule("r", "street = [\"xinhau\"]", "cgw"),
        "bad.toml:4:11: error: street: unknown street `xinhau`; did you mean `xinhua`?",
    );
    assert_diag(&rule("r", "community = [\"xinhua-09\"]", "cgw"), "bad.toml:4:14: error: community: unknown community");
    assert_diag(&rule("r", "kind = [\"complain\"]", "cgw"), "bad.toml:4:9: error: kind: unknown value `complain`");
    assert_diag(&rule("r", "channel = [\"fax\"]", "cgw"), "bad.toml:4:12: error: channel: unknown value `fax`");
    assert_diag(&rule("r", "weekdays = [\"monday\"]", "cgw"), "bad.toml:4:13: error: weekdays: unknown value");
    assert_diag(
        &rule("r", "kind = [\"help\"]", "cgw").replace("\"general\"", "\"slow\""),
        "bad.toml:7:10: error: unknown SLA policy `slow`",
    );
    assert_diag(
        &rule("r", "kind = [\"help\"]", "cgw").replace("policy", "assist = [\"nope\"]\npolicy"),
        "bad.toml:7:11: error: assist: unknown department `nope`",
    );
    assert_diag(
        &rule("r", "kind = [\"help\"]", "cgw").replace("policy", "urgency = \"asap\"\npolicy"),
        "bad.toml:7:11: error: unknown urgency `asap`",
    );
}

#[test]
fn malformed_rules_are_errors_with_positions() {
    assert_diag(&rule("r", "keywords_any = []", "cgw"), "bad.toml:4:16: error: `keywords_any` is an empty list");
    assert_diag(&rule("r", "keywords_none = [\" \"]", "cgw"), "bad.toml:4:18: error: keywords_none: an empty keyword");
    assert_diag(
        &rule("r", "time = { from = \"22:00\", to = \"25:00\" }", "cgw"),
        "bad.toml:4:31: error: time: `25:00` is not a time",
    );
    assert_diag(&rule("r", "time = { from = \"9:00\", to = \"17:00\" }", "cgw"), "bad.toml:4:17: error: time: `9:00`");
    assert_diag(
        &rule("r", "time = { from = \"08:00\", to = \"08:00\" }", "cgw"),
        "bad.toml:4:8: error: time: `from` equals `to`",
    );
    assert_diag(&rule("r", "colour = [\"red\"]", "cgw"), "bad.toml:4:1: error: unknown field `colour`");
    assert_diag(&rule("R 1", "kind = [\"help\"]", "cgw"), "bad.toml:2:6: error: rule id `R 1`");
    assert_diag("[[rule]]\nid = \"x\"\n[rule.when\n", "bad.toml:3:");
    assert_diag(
        &rule("r", "kind = [\"help\"]", "cgw").replace("policy", "assist = [\"cgw\"]\npolicy"),
        "bad.toml:7:11: error: `cgw` is the lead; it cannot also assist",
    );
    assert_diag(
        &rule("r", "street = [\"xinhua\"]\ncommunity = [\"binhe-01\"]", "cgw"),
        "bad.toml:5:14: error: community `binhe-01` is in street `binhe`, which `street` leaves out",
    );
    let dup = [rule("same", "kind = [\"help\"]", "cgw"), rule("same", "kind = [\"praise\"]", "cgw")].concat();
    assert_diag(&dup, "bad.toml:10:6: error: duplicate rule id `same`; first defined at bad.toml:2");
    let diags = diagnostics(&rule("r", "keywords_any = []", "cgw"));
    assert!(diags.iter().all(|d| d.contains("error")), "{diags:?}");
}

#[test]
fn errors_reject_the_whole_set() {
    let files = vec![
        ("good.toml".to_string(), rule("good", "kind = [\"help\"]", "cgw")),
        ("bad.toml".to_string(), rule("bad", "kind = [\"help\"]", "nobody")),
    ];
    let diags = RuleSet::load(&files, &Vocabulary::plain(), &district(), &POLICIES).unwrap_err();
    assert!(diags.iter().any(|d| d.severity == Severity::Error && d.file == "bad.toml"));
}

#[test]
fn contradictory_keywords_warn() {
    assert_diag(
        &rule("r", "keywords_all = [\"装修噪音\"]\nkeywords_none = [\"装修\"]", "cgw"),
        "bad.toml:2:6: warning: rule `r` can never match: keywords_all `装修噪音` contains keywords_none `装修`",
    );
}

#[test]
fn shadowed_rules_warn() {
    // Same priority, A more specific but every condition of A weaker than B's.
    let shadowed = [
        rule("broad", "category = [\"04\"]\nkeywords_any = [\"噪\"]", "sthj"),
        rule("narrow", "category = [\"04.01\"]\nkeywords_all = [\"夜间噪音\"]", "cgzf"),
    ]
    .concat();
    assert_diag(
        &shadowed,
        "bad.toml:11:6: warning: rule `narrow` can never win: rule `broad` (bad.toml:2) comes first",
    );

    // Higher priority with fewer conditions.
    let by_priority = [
        rule("first", "kind = [\"complaint\", \"report\"]", "cgw").replace("[rule.when]", "priority = 5\n[rule.when]"),
        rule("second", "kind = [\"complaint\"]\ntime = { from = \"23:00\", to = \"01:00\" }", "cgw"),
    ]
    .concat();
    assert_diag(&by_priority, "rule `second` can never win: rule `first` (bad.toml:2) comes first (priority 5 > 0)");

    // Time windows: a wrapping window covers a window inside it.
    let time = [
        rule("night", "time = { from = \"22:00\", to = \"06:00\" }\nkind = [\"complaint\"]", "sthj"),
        rule("late", "time = { from = \"01:00\", to = \"05:00\" }\nkind = [\"complaint\"]", "cgzf"),
    ]
    .concat();
    assert_diag(&time, "rule `late` can never win");

    // Excluding a shorter word excludes the longer one.
    let none = [
        rule("a", "keywords_none = [\"装修噪音\"]\nkind = [\"complaint\"]", "sthj"),
        rule("b", "keywords_none = [\"装修\"]\nkind = [\"complaint\"]", "cgzf"),
    ]
    .concat();
    assert_diag(&none, "rule `b` can never win");

    // Identical conditions.
    let twins =
        [rule("one", "category = [\"03\"]", "gongshui"), rule("two", "category = [\"03\"]", "gongdian")].concat();
    assert_diag(&twins, "rule `two` can never win: rule `one` (bad.toml:2) comes first (same priority and number of conditions, earlier in file order)");

    // A street-office lead needs a street; a rule without one is not covered.
    let street =
        [rule("office", "category = [\"01\"]", "street-office"), rule("bureau", "category = [\"01.01\"]", "cgw")]
            .concat();
    let _ = one(&street);
    let with_street = [
        rule("office", "category = [\"01\"]", "street-office").replace("[rule.when]", "priority = 1\n[rule.when]"),
        rule("bureau", "category = [\"01.01\"]\nstreet = [\"xinhua\"]", "cgw"),
    ]
    .concat();
    assert_diag(&with_street, "rule `bureau` can never win");
}

#[test]
fn rules_that_can_still_win_do_not_warn() {
    let cases = [
        // A narrower category first.
        [rule("water", "category = [\"03.01\"]", "gongshui"), rule("utilities", "category = [\"03\"]", "gongdian")]
            .concat(),
        // A needs a keyword B does not guarantee.
        [
            rule("kw", "category = [\"03\"]\nkeywords_any = [\"漏\"]", "gongshui"),
            rule("cat", "category = [\"03.01\"]", "gongdian"),
        ]
        .concat(),
        // B's keywords_any has a word without A's.
        [
            rule("a", "category = [\"03\"]\nkeywords_any = [\"停水\"]", "gongshui"),
            rule("b", "category = [\"03.01\"]\nkeywords_any = [\"没水了\", \"停水\"]", "gongdian"),
        ]
        .concat(),
        // Time windows that only overlap.
        [
            rule("a", "time = { from = \"22:00\", to = \"02:00\" }", "gongshui"),
            rule("b", "time = { from = \"01:00\", to = \"05:00\" }", "gongdian"),
        ]
        .concat(),
        // A excludes a word that B allows.
        [rule("a", "keywords_none = [\"装修\"]", "sthj"), rule("b", "kind = [\"complaint\"]", "cgzf")].concat(),
    ];
    for source in cases {
        let _ = one(&source);
    }
}

// ── version ──

#[test]
fn version_hashes_names_and_contents_in_name_order() {
    let d = district();
    let a = ("a.toml".to_string(), rule("a", "kind = [\"help\"]", "cgw"));
    let b = ("b.toml".to_string(), rule("b", "kind = [\"praise\"]", "cgw"));
    let v = |files: Vec<(String, String)>| {
        RuleSet::load(&files, &Vocabulary::plain(), &d, &POLICIES).unwrap().0.version().to_string()
    };
    let base = v(vec![a.clone(), b.clone()]);
    assert_eq!(base, v(vec![b.clone(), a.clone()]), "order of the slice does not matter");
    let edited = ("b.toml".to_string(), b.1.replace("praise", "consult"));
    assert_ne!(base, v(vec![a.clone(), edited]));
    let renamed = ("c.toml".to_string(), b.1.clone());
    assert_ne!(base, v(vec![a, renamed]));
}

// ── the keyword automaton ──

#[test]
fn automaton_finds_overlapping_and_nested_keywords() {
    let mut builder = automaton::AutomatonBuilder::default();
    let words = ["he", "she", "his", "hers", "燃气", "燃气泄漏", "气泄", "漏水"];
    let ids: Vec<u32> = words.iter().map(|w| builder.intern(w)).collect();
    let automaton = builder.build();
    let hits = automaton.scan("USHERS 燃 气泄漏水");
    let found: Vec<&str> = words.iter().zip(&ids).filter(|(_, &id)| hits.get(id)).map(|(w, _)| *w).collect();
    assert_eq!(found, ["he", "she", "hers", "燃气", "燃气泄漏", "气泄", "漏水"]);
}

// ── generated sets ──

#[test]
fn synthetic_sets_load_and_route() {
    let d = district();
    let files = synthetic(300, 3000, &d);
    let (set, _) = RuleSet::load(&files, &Vocabulary::plain(), &d, &POLICIES).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(set.len(), 300);
    let tickets = synthetic_tickets(200, 3000, &d, 7);
    let routed = tickets.iter().filter(|t| set.route(&t.input(), &d).decision().is_some()).count();
    assert!(routed > 0);
    for t in &tickets {
        assert_eq!(set.route(&t.input(), &d), set.explain(&t.input(), &d).decision);
    }
}

#[test]
fn locator_agrees_with_the_district() {
    let d = district();
    let locator = place::Locator::new(&d);
    let mut texts: Vec<String> = vec![
        "新华里小区3号楼".into(),
        "滨河路与新华路交叉口".into(),
        "南苑 农贸市场 东门".into(),
        "东关火车站旁边的纺织社区".into(),
        "不知道在哪".into(),
        String::new(),
    ];
    for t in synthetic_tickets(500, 2000, &d, 3) {
        texts.push(t.address);
        texts.push(t.content);
    }
    for s in &d.streets {
        let words = std::iter::once(&s.name).chain(&s.roads).chain(&s.landmarks);
        let community_words = s.communities.iter().flat_map(|c| std::iter::once(&c.name).chain(&c.estates));
        let all: Vec<&String> = words.chain(community_words).collect();
        texts.push(all.iter().map(|w| w.as_str()).collect::<Vec<_>>().join("，"));
        texts.push(all.iter().rev().map(|w| w.as_str()).collect::<Vec<_>>().join(""));
    }
    for text in &texts {
        assert_eq!(locator.locate(text), d.locate(text), "{text}");
    }
}

#[test]
fn quick_summary_stays_small() {
    assert_eq!(std::mem::size_of::<matching::Quick>(), 10);
}

// ── words, guards, phrase lists, emergency proposals ──

/// One rule set of `source` read with the shipped vocabulary (jieba, guards, phrase lists).
fn with_words(source: &str) -> RuleSet {
    let files = vec![("test.toml".to_string(), source.to_string())];
    let mut vocabulary = shipped_vocabulary();
    vocabulary.phrase_lists.clear();
    match RuleSet::load(&files, &vocabulary, &district(), &POLICIES) {
        Ok((set, _)) => set,
        Err(diags) => panic!("unexpected errors: {diags:?}"),
    }
}

/// An urgent emergency rule: `keywords_any` as the items of its TOML array, and the emergency's
/// table last, so a test may add keys to it.
fn emergency_rule(id: &str, keywords_any: &str, lead: &str, label: &str) -> String {
    format!(
        "\n[[rule]]\nid = \"{id}\"\n[rule.when]\nkeywords_any = [{keywords_any}]\n[rule.then]\nlead = \"{lead}\"\n\
         policy = \"urgent\"\n[rule.emergency]\nlabel = \"{label}\"\n"
    )
}

/// A fire rule handed off to 119.
fn fire() -> String {
    emergency_rule("fire", r#""着火", "起火", "塌+大坑""#, "xfzd", "起火") + "handoff = \"119\"\n"
}

#[test]
fn keywords_match_words_not_substrings_across_word_boundaries() {
    let set = with_words(&fire());
    let d = district();
    let routed =
        |content: &'static str| set.route(&ticket("03.01.03", content), &d).decision().map(|d| d.rule_id.clone());
    assert_eq!(routed("楼里水压太低，热水器都打不着火"), None);
    assert_eq!(routed("灶台打不着火"), None);
    assert_eq!(routed("厨房着火了，快来人"), Some("fire".into()));
    // Parts joined by + need one sentence, in any order.
    assert_eq!(routed("马路中间突然塌了一个大坑"), Some("fire".into()));
    assert_eq!(routed("马路中间塌了。旁边有个大坑"), None);
}

#[test]
fn guards_stop_negated_feared_past_and_questioned_mentions() {
    let set = with_words(&fire());
    let d = district();
    for (content, guard) in [
        ("楼道堆满杂物，万一起火后果不堪设想", Guard::Hypothetical),
        ("担心会着火", Guard::Hypothetical),
        ("去年楼里着火以后烧坏的墙面物业到现在也没有修", Guard::Past),
        ("没有着火，只是有点烟味", Guard::Negated),
        ("请问着火了应该先做什么", Guard::Question),
    ] {
        let input = ticket("03.01.03", content);
        assert_eq!(set.route(&input, &d), Routing::Manual { reason: NO_MATCH.into() }, "{content}");
        let e = set.explain(&input, &d);
        assert!(e.guarded.iter().any(|g| g.rule_id == "fire" && g.guard == guard), "{content}: {:?}", e.guarded);
        let miss = e.near_misses.iter().find(|m| m.rule_id == "fire").expect("a near miss");
        assert!(miss.failed[0].contains(guard.as_str()), "{content}: {:?}", miss.failed);
    }
    // The guard is local to its clause: a fear elsewhere does not stop a fire now.
    let now = ticket("03.01.03", "我一直担心楼下的电动车，现在真的着火了");
    assert_eq!(routed_by(&set, &now), Some("fire".into()));
}

#[test]
fn an_emergency_rule_proposes_and_never_sets_urgency() {
    let set = with_words(&fire());
    let d = district();
    let decision = set.route(&ticket("03.01.03", "他说厨房起火了，火很大。"), &d).decision().cloned().expect("routed");
    assert_eq!(decision.urgency, None);
    let proposal = decision.emergency.expect("a proposal");
    assert_eq!(proposal.label, "起火");
    assert_eq!(proposal.handoff.as_deref(), Some("119"));
    assert_eq!(proposal.matched, "他说厨房起火了");
    assert_eq!(proposal.words, ["起火"]);
    let e = set.explain(&ticket("03.01.03", "他说厨房起火了"), &d);
    assert_eq!(e.matched_words, ["起火"]);
    // Dismissed: routed as if emergency rules were not there.
    assert_eq!(set.route_dismissed(&ticket("03.01.03", "厨房起火了"), &d), Routing::Manual { reason: NO_MATCH.into() });
}

#[test]
fn emergency_rules_are_checked() {
    let with_urgency = fire().replace("policy = \"urgent\"", "policy = \"urgent\"\nurgency = \"urgent\"");
    assert!(
        diagnostics(&with_urgency).iter().any(|d| d.contains("proposes urgency")),
        "{:?}",
        diagnostics(&with_urgency)
    );
    let bad_handoff = fire().replace("\"119\"", "\"911\"");
    assert!(diagnostics(&bad_handoff).iter().any(|d| d.contains("emergency.handoff")));
    let no_words =
        "[[rule]]\nid = \"e\"\n[rule.then]\nlead = \"xfzd\"\npolicy = \"urgent\"\n[rule.emergency]\nlabel = \"起火\"\n";
    assert!(diagnostics(no_words).iter().any(|d| d.contains("needs keywords_any")));
    let bad_guard = fire().replace("[rule.then]", "guards = [\"later\"]\n[rule.then]");
    assert!(diagnostics(&bad_guard).iter().any(|d| d.contains("unknown guard `later`")));
    let unknown_list = fire().replace("[rule.then]", "phrases = [\"flood\"]\n[rule.then]");
    assert!(diagnostics(&unknown_list).iter().any(|d| d.contains("no phrase list `flood`")));
}

#[test]
fn a_rule_that_turns_calls_urgent_without_asking_is_warned() {
    let silent = "[[rule]]\nid = \"fraud\"\n[rule.when]\nkeywords_any = [\"诈骗\"]\n[rule.then]\nlead = \"xfzd\"\npolicy = \"urgent\"\nurgency = \"urgent\"\n";
    let warned = |source: &str| diagnostics(source).iter().any(|d| d.contains("without asking the operator"));
    assert!(warned(silent), "{:?}", diagnostics(silent));
    // Following the operator's own 紧急 is not silent; neither is a normal urgency.
    assert!(!warned(&silent.replace("[rule.then]", "urgency = [\"urgent\"]\n[rule.then]")));
    assert!(!warned(&silent.replace("urgency = \"urgent\"", "urgency = \"normal\"")));
}

#[test]
fn phrase_lists_are_checked_line_by_line() {
    let errors = parse_phrase_list("phrases/fire.txt", "# 起火\n着火\n\n起 火\n着火\n+坑\n").unwrap_err();
    let lines: Vec<String> = errors.iter().map(|d| d.to_string()).collect();
    assert!(lines[0].starts_with("phrases/fire.txt:4:1: error"), "{lines:?}");
    assert!(lines[1].starts_with("phrases/fire.txt:5:1: error") && lines[1].contains("line 2"), "{lines:?}");
    assert!(lines[2].starts_with("phrases/fire.txt:6:1: error"), "{lines:?}");
    assert_eq!(parse_phrase_list("f.txt", "着火 # now\n塌+坑\n").unwrap(), [("着火".into(), 1), ("塌+坑".into(), 2)]);
}

#[test]
fn phrase_lists_name_a_thing_and_its_state_once_as_word_classes() {
    let list = "# 供水管道爆裂\n@管子 = 水管|总水管\n@破了 = 爆|裂\n@管子+@破了\n地底下+@破了|冒水\n";
    assert_eq!(
        parse_phrase_list("phrases/water.txt", list).unwrap(),
        [("水管|总水管+爆|裂".into(), 4), ("地底下+爆|裂|冒水".into(), 5)]
    );
    // Every mistake with its line: a class used before it is defined, defined twice, never used,
    // or with an empty word.
    let bad = "@管子+爆\n@管子 = 水管\n@管子 = 管子\n@裂 = 裂||开\n@没用 = 水\n";
    let lines: Vec<String> =
        parse_phrase_list("phrases/water.txt", bad).unwrap_err().iter().map(|d| d.to_string()).collect();
    assert!(lines.iter().any(|l| l.starts_with("phrases/water.txt:1:1: error") && l.contains("@管子")), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("phrases/water.txt:3:1: error") && l.contains("line 2")), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("phrases/water.txt:4:1: error")), "{lines:?}");
    assert!(
        lines.iter().any(|l| l.starts_with("phrases/water.txt:5:1: error") && l.contains("no phrase")),
        "{lines:?}"
    );
}

#[test]
fn a_thing_and_its_state_match_in_any_of_their_words_and_the_preview_shows_the_words_said() {
    let set =
        with_words(&emergency_rule("water-main-burst", r#""水管|总水管|管子+爆|裂|哗哗""#, "gongshui", "供水管道爆裂"));
    let d = district();
    let proposal = |content: &'static str| set.route(&ticket("03.01.01", content), &d).decision().cloned();
    let burst = proposal("楼下的总水管裂了，水哗哗往外流").expect("a burst said in other words is proposed");
    let emergency = burst.emergency.expect("proposed");
    assert_eq!(emergency.words, ["总水管+裂"], "the words the caller used, not the list of alternatives");
    assert_eq!(emergency.matched, "楼下的总水管裂了");
    // Each part on word boundaries, and the two parts in one sentence, unguarded.
    assert!(proposal("水管工说管子没事。昨天的暴雨裂了墙").is_none(), "parts in different sentences");
    assert!(proposal("去年水管裂了以后一直没修好").is_none(), "a past burst is not one now");
    assert!(proposal("管子没裂").is_none(), "negated");
}

#[test]
fn a_past_time_reaches_over_its_sentence_until_the_caller_says_now() {
    let d = district();
    let set = shipped(&d);
    let proposal = |category, content| proposed_label(&set, &d, category, content);
    // Told of last month, in a later clause: not happening now.
    assert_eq!(proposal("08.01.01", "我爱人上个月在医院生孩子，产后大出血，后来抢救过来了，想要个说法"), None);
    assert_eq!(proposal("01.02.01", "青石路上上个月塌下去的那个坑，到现在还围着没动工"), None);
    // Back to now (现在, 又): proposed.
    assert_eq!(proposal("01.02.01", "这段路上个月修过，现在又塌下去一个大坑").as_deref(), Some("路面塌陷"));
    // A past time that describes a thing (前两天的雪) says when that thing was, in its own clause only.
    assert_eq!(
        proposal("01.02.04", "前两天的雪化了，下水口冻住了，地下通道里水齐腰深了，有辆车熄火在里面").as_deref(),
        Some("内涝")
    );
    assert_eq!(proposal("01.02.04", "前两天的暴雨淹了地下通道"), None);
    // A habit reaches over its own clause only, and 老 before a noun is an adjective.
    assert_eq!(proposal("01.03.01", "公园门口那棵老杨树，刚才让风刮倒了，横在路上").as_deref(), Some("树木倒伏"));
    assert_eq!(proposal("04.02.01", "那家店天天冒烟"), None);
    // A denial after the mention (一点味儿都没有) stops it as one before does.
    assert_eq!(proposal("03.03.02", "燃气灶打不着火，我凑上去闻了一点味儿都没有"), None);
    assert_eq!(proposal("03.03.02", "燃气灶那儿一股味儿，嘶嘶地响").as_deref(), Some("燃气泄漏"));
}

#[test]
fn a_figure_of_speech_a_wrong_guess_or_last_week_is_not_the_thing_now() {
    let d = district();
    let set = shipped(&d);
    let proposal = |category, content| proposed_label(&set, &d, category, content);
    // A figure of speech (简直, 等于) is not the thing.
    assert_eq!(proposal("05.04.01", "停车场停三小时收六十，简直是抢劫啊"), None);
    assert_eq!(proposal("02.01.03", "电梯三天两头停运，我们住十二楼，现在等于困在家里下不了楼"), None);
    // 原来是: what was said before it was a wrong guess; the real thing said after it counts.
    assert_eq!(proposal("02.01.01", "楼下邻居家冒烟了，原来是烧糊了锅，物业也不管"), None);
    assert_eq!(proposal("02.01.01", "楼道里全是烟，原来是三楼着火了").as_deref(), Some("起火"));
    // Every day of last week is a past time (上礼拜四 was cut 上 / 礼拜四).
    assert_eq!(proposal("02.01.03", "上礼拜四我们单元电梯困人，人早弄出来了，物业到现在也不说原因"), None);
    // Yesterday morning is past; this morning, after last night, is now.
    assert_eq!(proposal("11.02.03", "昨天早上楼道着火了，物业到现在不给说法"), None);
    assert_eq!(proposal("03.03.01", "工地宿舍昨晚烧炭盆取暖，早上好几个工友起不来").as_deref(), Some("一氧化碳中毒"));
}

#[test]
fn a_cue_that_the_danger_is_over_stops_what_was_said_before_it() {
    let set = with_words(&fire());
    let d = district();
    for (content, cue) in
        [("厨房着火了，我们自己拿盆浇了，后来没事了", "后来没事"), ("楼道里着火了。物业来了，现在都好了", "现在都好了")]
    {
        let input = ticket("03.01.03", content);
        assert_eq!(set.route(&input, &d), Routing::Manual { reason: NO_MATCH.into() }, "{content}");
        let e = set.explain(&input, &d);
        assert!(
            e.guarded.iter().any(|g| g.rule_id == "fire" && g.guard == Guard::Past && g.cue == cue),
            "{content}: {:?}",
            e.guarded
        );
    }
    // Said before the mention, it says nothing of it: mended last time, on fire again now.
    assert_eq!(routed_by(&set, &ticket("03.01.03", "上次修好以后，今天又着火了")), Some("fire".into()));
    // Hearsay said afterwards makes what came before it a rumour (hypothetical.later).
    let rumour = ticket("03.01.03", "听楼里的人说，五楼着火了。也不知道真假");
    assert_eq!(routed_by(&set, &rumour), None);
    let e = set.explain(&rumour, &d);
    assert!(e.guarded.iter().any(|g| g.guard == Guard::Hypothetical && g.cue == "不知道真假"), "{:?}", e.guarded);
}

#[test]
fn the_operators_category_is_evidence_of_the_thing() {
    let d = district();
    let set = shipped(&d);
    let proposal = |category, content| proposed_label(&set, &d, category, content);
    // Filed under 燃气泄漏, a smell and a dizzy head are a leak, whatever the caller calls the thing.
    let smell = "厨房里一股怪味儿，越闻越冲，头都晕了";
    assert_eq!(proposal("03.03.01", smell).as_deref(), Some("燃气泄漏"));
    // The same words filed elsewhere say nothing of gas.
    assert_eq!(proposal("02.01.01", smell), None);
    // Filed under 电梯运行, someone who cannot get out is trapped in it, however it is called.
    assert_eq!(proposal("02.01.03", "商场那个观光的梯子停在两层中间，我闺女在里头出不来").as_deref(), Some("电梯困人"));
    // The guards still hold: told of last month, or feared.
    assert_eq!(proposal("02.01.03", "上个月我闺女在梯子里出不来，物业到现在也没给说法"), None);
    assert_eq!(proposal("01.03.01", "门口那棵老槐树歪得厉害，怕哪天刮大风倒了砸着人"), None);
    // With the second opinion learned from the labelled calls, the smell and the dizzy head are
    // proposed as a leak under any category (it learned that they are), and the past and the
    // feared stay unproposed.
    let learning = shipped_with_learning(&d);
    let learned = |category, content| proposed_label(&learning, &d, category, content);
    assert_eq!(learned("02.01.01", smell).as_deref(), Some("燃气泄漏"));
    assert_eq!(learned("02.01.03", "上个月我闺女在梯子里出不来，物业到现在也没给说法"), None);
    assert_eq!(learned("01.03.01", "门口那棵老槐树歪得厉害，怕哪天刮大风倒了砸着人"), None);
}

#[test]
fn the_guards_file_is_checked() {
    let bad = "[negated]\nbefore = [\"没有\"]\nwithin = 99\n[hypothetical]\nbefore = [\"万一\"]\n[past]\nbefore = [\"\"]\n[question]\nanywhere = []\n";
    let lines: Vec<String> = GuardCues::parse("guards.toml", bad).unwrap_err().iter().map(|d| d.to_string()).collect();
    assert!(lines.iter().any(|l| l.starts_with("guards.toml:3:10: error")), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("guards.toml:7:11: error")), "{lines:?}");
}

#[test]
fn shipped_catalogue_reads_the_issues_calls_as_a_dispatcher_would() {
    let d = district();
    let set = shipped(&d);
    let proposal = |category, content| proposed_label(&set, &d, category, content);
    for (category, content) in [
        ("03.01.03", "楼里水压太低，热水器都打不着火"),
        ("03.03.02", "灶台打不着火"),
        ("11.02.03", "万一起火后果不堪设想"),
        ("02.01.01", "去年楼里着火以后烧坏的墙面物业到现在也没有修"),
        ("04.02.01", "饭店的排烟口一直冒烟"),
        ("07.01.01", "老板说公司失火了，拖欠我们三个月工资"),
        ("02.01.03", "上个月电梯困人的事已经处理完了"),
        ("06.02.01", "担心会发生食物中毒"),
        ("14.01.02", "之前走失人员找到后想感谢民警"),
    ] {
        assert_eq!(proposal(category, content), None, "{content}");
    }
    for (category, content, label) in [
        ("01.02.01", "马路中间突然塌了一个大坑，已经有车陷进去了", "路面塌陷"),
        ("03.02.01", "电线断了掉在地上，还在冒火花", "电力线路险情"),
        ("03.01.01", "水管爆了，水喷得很高", "供水管道爆裂"),
        ("01.03.01", "大树刮倒了，压在了马路上", "树木倒伏"),
        ("06.02.01", "吃完饭后几十个人上吐下泻", "食物中毒"),
        ("02.01.01", "厨房起火了", "起火"),
    ] {
        assert_eq!(proposal(category, content).as_deref(), Some(label), "{content}");
    }
}

#[test]
fn the_preview_lists_each_word_said_once_when_two_phrases_say_it_alike() {
    let keywords = r#""水管+爆", "水管|管子+爆|裂", "水+喷""#;
    let set = with_words(&emergency_rule("water-main-burst", keywords, "gongshui", "供水管道爆裂"));
    let d = district();
    let decision = set.route(&ticket("03.01.01", "槐树街的水管爆了，水喷得很高"), &d).decision().cloned();
    let emergency = decision.and_then(|d| d.emergency).expect("proposed");
    assert_eq!(emergency.words, ["水管+爆", "水+喷"]);
}

/// `hotline rules check` on the labelled calls: a malformed line, or a category, kind or lead the
/// district does not have, is an error at its file and line, and that file is not learned from.
#[test]
fn malformed_labelled_calls_are_errors_at_their_line_and_are_not_learned() {
    let d = district();
    let header = "# category\tkind\taddress\tcontent\tlead\turgency\temergency\n";
    let good = format!("{header}03.01.01\thelp\t-\t水管爆了，水喷得很高\tgongshui\turgent\t供水管道爆裂\n");
    let bad_lead = format!("{header}03.01.01\thelp\t-\t水管爆了\tnobody\turgent\t供水管道爆裂\n");
    let short = format!("{header}03.01.01\thelp\t水管爆了\n");
    let bad_urgency = format!("{header}03.01.01\thelp\t-\t水管爆了\tgongshui\tsoon\t-\n");
    let mut diags = Vec::new();
    let files = [
        ("examples/good.tsv".to_string(), good),
        ("examples/lead.tsv".to_string(), bad_lead),
        ("examples/short.tsv".to_string(), short),
        ("examples/urgency.tsv".to_string(), bad_urgency),
    ];
    let cases = learned::parse_examples(&files, &d, &mut diags);
    assert_eq!(cases.len(), 1, "only the good file is learned from");
    let said: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
    assert_eq!(said.len(), 3, "{said:?}");
    assert!(said[0].starts_with("examples/lead.tsv:2:0: error: lead `nobody`"), "{said:?}");
    assert!(said[1].starts_with("examples/short.tsv:2:0: error: expected 7 tab-separated columns"), "{said:?}");
    assert!(said[2].starts_with("examples/urgency.tsv:2:") && said[2].contains("urgency `soon`"), "{said:?}");
    // Through the whole check, as `hotline rules check` runs it: errors, not a silent skip.
    let mut vocabulary = shipped_vocabulary();
    vocabulary.examples = files.to_vec();
    let all = check(&shipped_files(), &vocabulary, &d, &POLICIES);
    assert!(
        all.iter().any(|x| x.file == "examples/lead.tsv" && x.line == 2 && x.severity == Severity::Error),
        "{all:?}"
    );
}
