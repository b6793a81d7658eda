use chrono::{TimeZone, Utc};

use super::*;
use crate::domain::rules::RuleSet;

fn district() -> District {
    District::demo()
}

/// Features with no segmentation at all: only the centre's words found in the text. The
/// service adds jieba's words; the domain's answer must already be useful without them.
fn centre_only(model: &Model, text: &str) -> Vec<String> {
    features(&[], text, model.centre_words())
}

fn top(model: &Model, d: &District, text: &str) -> Vec<CategorySuggestion> {
    categories(model, d, &centre_only(model, text))
}

#[test]
fn a_centre_with_no_history_gets_suggestions_from_its_words() {
    let d = district();
    let model = Model::build(&History::default(), &d);
    let s = top(&model, &d, "我们小区门口的路灯已经三天不亮了，晚上黑灯瞎火的");
    assert_eq!(s[0].code, "01.02.03", "{s:#?}");
    assert_eq!(s[0].name, "路灯故障");
    assert_eq!(s[0].path, "城乡建设/市政设施/路灯故障");
    assert!(s[0].why.iter().any(|w| w == "路灯"), "{:?}", s[0].why);
    assert!(s.len() <= MAX_SUGGESTIONS);
    assert!(s.windows(2).all(|p| p[0].score >= p[1].score));
    assert!(s.iter().all(|c| (0.0..=1.0).contains(&c.score) && !c.why.is_empty()));

    let s = top(&model, &d, "楼上邻居天天半夜装修，噪音吵得孩子睡不着");
    assert_eq!(s[0].code, "04.01.01", "{s:#?}");
}

#[test]
fn history_teaches_what_the_words_alone_do_not_know() {
    let d = district();
    let cold = Model::build(&History::default(), &d);
    // 鼓包 is no centre word: unknown to the cold model.
    let words = vec!["电梯".to_string(), "按钮".to_string(), "鼓包".to_string()];
    let call = features(&words, "电梯按钮鼓包", cold.centre_words());
    assert!(!cold.knows("鼓包"));

    let mut history = History::default();
    for _ in 0..5 {
        history.add("02.01.03", &["电梯".into(), "按钮".into()]);
        history.add("02.02.01", &["墙面".into(), "鼓包".into()]);
    }
    let warm = Model::build(&history, &d);
    assert!(warm.knows("鼓包"));
    let s = categories(&warm, &d, &features(&["墙面".into(), "鼓包".into()], "墙面鼓包", warm.centre_words()));
    assert_eq!(s[0].code, "02.02.01", "{s:#?}");
    assert!(s[0].why.iter().any(|w| w == "鼓包"), "{:?}", s[0].why);
    // The centre's words still count next to the history.
    let s = categories(&warm, &d, &call);
    assert_eq!(s[0].code, "02.01.03", "{s:#?}");
}

#[test]
fn a_removed_category_is_forgotten() {
    let d = district();
    let mut history = History::default();
    history.add("99.99.99", &["路灯".into()]);
    history.add("01.02.03", &["路灯".into()]);
    history.retain_leaves(&d);
    assert_eq!(history.tickets, 1);
    assert!(!history.categories.contains_key("99.99.99"));
}

#[test]
fn words_on_a_parent_speak_for_its_leaves() {
    let categories_toml = r#"
[[category]]
code = "01"
name = "城乡建设"
words = ["城管"]

[[category]]
code = "01.01"
name = "市容环卫"

[[category]]
code = "01.01.01"
name = "垃圾清运"
words = ["垃圾"]

[[category]]
code = "02"
name = "住房"

[[category]]
code = "02.01"
name = "物业"

[[category]]
code = "02.01.01"
name = "物业服务"
words = ["物业"]
"#;
    let d = District::parse(
        ("departments.toml", include_str!("../../../dispatch_rules/departments.toml")),
        ("regions.toml", include_str!("../../../dispatch_rules/regions.toml")),
        ("categories.toml", categories_toml),
    )
    .unwrap();
    let model = Model::build(&History::default(), &d);
    let s = top(&model, &d, "找城管");
    assert_eq!(s.len(), 1, "{s:#?}");
    assert_eq!(s[0].code, "01.01.01");
}

#[test]
fn features_are_words_worth_one_and_the_centres_words_found_anywhere() {
    let words: Vec<String> = ["路", "灯不亮", "12", "，", "ＷｉＦｉ"].iter().map(|s| s.to_string()).collect();
    let f = features(&words, "小区路灯不亮", &["路灯".into(), "不亮".into(), "井盖".into()]);
    // Then the characters, each once, but the commonest (不).
    assert_eq!(f, ["灯不亮", "wifi", "路灯", "不亮", "小", "区", "路", "灯", "亮"]);
}

#[test]
fn wording_no_list_foresees_still_shares_characters_with_the_centres_words() {
    let d = district();
    let model = Model::build(&History::default(), &d);
    // No centre word in it (灯 alone, 全灭了, 摸黑): the characters of 路灯 / 灯坏 still speak.
    let s = top(&model, &d, "那条街的灯晚上全灭了");
    assert!(s.iter().take(3).any(|c| c.code == "01.02.03"), "{s:#?}");
}

#[test]
fn a_large_history_in_set_phrases_does_not_drown_the_centres_words() {
    let d = district();
    // Hundreds of street-light tickets, all in the operators' set phrase, and as many
    // enquiries in theirs: the history knows none of a caller's own words for either.
    let mut history = History::default();
    for _ in 0..400 {
        history.add("01.02.03", &features(&["来电人".into(), "反映".into(), "路灯".into()], "来电人反映路灯", &[]));
        history.add("13.01.01", &features(&["来电人".into(), "咨询".into()], "来电人咨询", &[]));
    }
    let model = Model::build(&history, &d);
    // A caller in words of the centre's list that the history never used.
    let s = top(&model, &d, "楼下晚上黑灯瞎火的，灯一直不亮");
    assert_eq!(s[0].code, "01.02.03", "{s:#?}");
    // And a category with no history at all is still found by its words, not pushed out by
    // the categories the centre happens to file most.
    let s = top(&model, &d, "楼道里电动车飞线充电");
    assert_eq!(s[0].code, "11.02.02", "{s:#?}");
}

#[test]
fn bad_input_is_screened_with_a_reason() {
    assert_eq!(screen(""), Err(Notice::Empty));
    assert_eq!(screen("   \n"), Err(Notice::Empty));
    assert_eq!(screen(&"路灯".repeat(2001)), Err(Notice::TooLong));
    assert_eq!(screen("？！……，。!!!"), Err(Notice::NoChinese));
    assert_eq!(screen("The street light is broken"), Err(Notice::NoChinese));
    assert_eq!(screen("Улица тёмная 12345"), Err(Notice::NoChinese));
    assert_eq!(screen("路灯 broken 了"), Ok(()));
    let d = district();
    let model = Model::build(&History::default(), &d);
    // Chinese the model knows nothing of: no suggestion rather than a guess.
    assert!(top(&model, &d, "你好你好").is_empty());
    assert!(top(&model, &d, "。。。").is_empty());
}

#[test]
fn the_place_comes_from_the_address_or_what_the_caller_said() {
    let d = district();
    let p = place(&d, "文昌苑3号楼", "");
    assert_eq!((p.street.as_deref(), p.community.as_deref()), (Some("xinhua"), Some("xinhua-02")));
    // An alias: how callers say it.
    let p = place(&d, "纺织厂家属院5栋", "");
    assert_eq!(p.community.as_deref(), Some("dongguan-02"));
    assert_eq!(p.street.as_deref(), Some("dongguan"));
    let p = place(&d, "", "我在火车站东边的路口，红绿灯坏了");
    assert_eq!(p.street.as_deref(), Some("dongguan"));
    assert_eq!(p.located_by.as_deref(), Some("火车站"));
    assert_eq!(place(&d, "不知道", "没有地点"), Place::default());
}

#[test]
fn the_rules_say_when_a_call_would_be_urgent() {
    let d = district();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dispatch_rules");
    let mut diags = Vec::new();
    let files = crate::catalog::read_rule_files(&dir, &mut diags);
    let words = crate::domain::search_words::parse(
        "search_words.txt",
        &std::fs::read_to_string(dir.join("search_words.txt")).expect("search words"),
    )
    .expect("the shipped search words load");
    let vocabulary =
        crate::catalog::vocabulary(&dir, std::sync::Arc::new(crate::search::segment::Segmenter::new(words)));
    let (rules, _) = RuleSet::load(&files, &vocabulary, &d, &["urgent", "utility", "general", "complex"]).unwrap();
    let model = Model::build(&History::default(), &d);
    let input = |content: &'static str| RoutingInput {
        kind: DEFAULT_KIND,
        category: "",
        content,
        address: "",
        street: None,
        community: None,
        channel: "phone",
        urgency: "normal",
        received_at: Utc.with_ymd_and_hms(2026, 12, 2, 2, 0, 0).unwrap(),
    };
    let text = "厨房里一股很浓的煤气味，怀疑燃气泄漏了";
    let s = top(&model, &d, text);
    assert_eq!(s[0].code, "03.03.01", "{s:#?}");
    let hint = urgency(&rules, &d, &s, &input(text)).expect("a gas leak is urgent");
    assert!(hint.why.contains("燃气"), "{hint:?}");
    let text = "我想问一下社保卡丢了怎么补办";
    let s = top(&model, &d, text);
    assert_eq!(urgency(&rules, &d, &s, &input(text)), None);
}
