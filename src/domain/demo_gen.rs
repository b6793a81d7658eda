//! Plausible demo tickets for a [`District`]: what residents of the demo district call about.
//!
//! Pure and deterministic for a seed, so a demo database, a screenshot or a load test can be
//! rebuilt exactly. The content templates are written against the shipped taxonomy
//! (`dispatch_rules/categories.toml`) and filled with the district's own estates, roads and
//! landmarks, so every draft's address locates back to its street with [`District::locate`].
//! Templates whose category is not a leaf of the given district are skipped, which keeps the
//! generator usable, if thinner, with an edited taxonomy.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::district::{Community, District, Street};

/// 诉求类型: 咨询, 求助, 投诉, 举报, 建议, 表扬.
pub const KINDS: [&str; 6] = ["consult", "help", "complaint", "report", "suggestion", "praise"];
/// 渠道: 电话, 网上, 信件, 微信, app.
pub const CHANNELS: [&str; 5] = ["phone", "web", "letter", "wechat", "app"];
pub const URGENCIES: [&str; 2] = ["normal", "urgent"];

/// Everything an operator would type for one ticket, before the server gives it a number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DemoTicketDraft {
    /// One of [`KINDS`].
    pub kind: &'static str,
    /// One of [`CHANNELS`].
    pub channel: &'static str,
    /// One of [`URGENCIES`].
    pub urgency: &'static str,
    /// A leaf category code.
    pub category: String,
    /// Street code.
    pub street: String,
    /// Community code, when the address names an estate.
    pub community: Option<String>,
    pub address: String,
    pub content: String,
    pub caller_name: String,
    /// A mainland mobile number (1[3-9] and 9 digits) or a landline with area code (010-8xxxxxxx).
    pub caller_phone: String,
    /// The resident asked to stay anonymous to the department (保密).
    pub confidential: bool,
}

/// `count` drafts for `district`, the same ones for the same seed. Empty when the district
/// has no street or no leaf category that a template fits.
pub fn generate(district: &District, count: usize, seed: u64) -> Vec<DemoTicketDraft> {
    let mut rng = StdRng::seed_from_u64(seed);
    let usable = usable_templates(district);
    if usable.is_empty() {
        return Vec::new();
    }
    let by_kind: Vec<Vec<&Usable>> =
        KINDS.iter().map(|kind| usable.iter().filter(|u| u.template.kind == *kind).collect()).collect();
    // A kind without templates (an edited taxonomy) simply drops out of the mix.
    let kind_weights: Vec<u32> =
        KIND_WEIGHTS.iter().zip(&by_kind).map(|(w, templates)| if templates.is_empty() { 0 } else { *w }).collect();
    let total_weight: u32 = kind_weights.iter().sum();

    (0..count)
        .map(|_| {
            let kind_index = pick_weighted(&mut rng, &kind_weights, total_weight);
            let usable = by_kind[kind_index].choose(&mut rng).copied().unwrap_or(&usable[0]);
            draft(district, usable, &mut rng)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------

/// One thing that happens to a demo ticket after it is received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoStep {
    /// 直接办结: an enquiry answered from the knowledge base while the caller waits.
    ResolveDirectly,
    /// 人工派单: a dispatcher places a ticket no rule matched (to its street office).
    DispatchByHand,
    /// 签收 by the lead.
    Accept,
    /// 退单 by the lead, "not ours".
    Return,
    /// The return reviewed: 改派 to another unit, or the return rejected (驳回).
    ReviewReturn {
        redispatch: bool,
    },
    /// 申请延期, and a supervisor's decision some hours later.
    RequestExtension,
    DecideExtension {
        approve: bool,
    },
    /// 督办 on a ticket running late.
    Supervise,
    /// 办结回复.
    Reply,
    /// 回访: reached, and whether the resident was satisfied.
    Callback {
        satisfied: bool,
    },
}

/// A demo ticket's life: each step with how many hours after intake it happens. The demo
/// keeps the steps that fall before the present, so the data ages as a real centre's does:
/// the last hours' tickets wait to be accepted, last week's are being handled, last month's
/// are called back and closed. Reviews and decisions come within working hours of being asked
/// — a return does not wait for weeks — and a few replies run late, as they do.
pub fn life_plan(kind: &str, routed: bool, rng: &mut StdRng) -> Vec<(f64, DemoStep)> {
    use DemoStep::*;
    let mut plan = Vec::new();
    if kind == "consult" && rng.gen_bool(0.45) {
        plan.push((0.0, ResolveDirectly));
        return plan;
    }
    let mut at = 0.0;
    if !routed {
        at += rng.gen_range(0.2..2.0);
        plan.push((at, DispatchByHand));
    }
    // 签收 within the 2 working hours, a few late.
    at += if rng.gen_bool(0.9) { rng.gen_range(0.1..1.8) } else { rng.gen_range(2.0..5.0) };
    if rng.gen_bool(0.08) {
        // Not theirs: returned soon after it arrived, reviewed the same working day.
        plan.push((at, Return));
        at += rng.gen_range(0.5..6.0);
        let redispatch = rng.gen_bool(0.7);
        plan.push((at, ReviewReturn { redispatch }));
        at += rng.gen_range(0.2..2.0);
    }
    plan.push((at, Accept));
    let late = rng.gen_bool(0.07);
    if rng.gen_bool(0.06) {
        at += rng.gen_range(20.0..60.0);
        plan.push((at, RequestExtension));
        at += rng.gen_range(1.0..8.0);
        plan.push((at, DecideExtension { approve: rng.gen_bool(0.8) }));
    }
    // Most replies within the five working days (a week of calendar time); a few run late
    // and are supervised.
    let reply_after = if late { rng.gen_range(190.0..330.0) } else { rng.gen_range(4.0..140.0) };
    if late {
        plan.push((at + 170.0, Supervise));
    }
    at += reply_after;
    plan.push((at, Reply));
    // 回访 within the next working day or two.
    at += rng.gen_range(4.0..48.0);
    plan.push((at, Callback { satisfied: rng.gen_bool(0.88) }));
    plan.sort_by(|a, b| a.0.total_cmp(&b.0));
    plan
}

/// Complaints and requests for help dominate a real centre's intake; praise is rare.
const KIND_WEIGHTS: [u32; 6] = [17, 24, 36, 12, 8, 3];
const CHANNEL_WEIGHTS: [u32; 5] = [60, 12, 3, 15, 10];

struct Template {
    category: &'static str,
    kind: &'static str,
    /// Urgent by nature (gas leak, missing manhole cover …); others are urgent only rarely.
    urgent: bool,
    text: &'static str,
}

const fn t(category: &'static str, kind: &'static str, text: &'static str) -> Template {
    Template { category, kind, urgent: false, text }
}

const fn urgent(category: &'static str, kind: &'static str, text: &'static str) -> Template {
    Template { category, kind, urgent: true, text }
}

const C: &str = "complaint";
const H: &str = "help";
const Q: &str = "consult";
const R: &str = "report";
const S: &str = "suggestion";
const P: &str = "praise";

/// Slots in braces are filled per draft; a slot used twice gets the same value both times.
/// {estate} {community} {road} {road2} {landmark} come from one street of the district, and
/// the first of them in this order that the text uses decides the address.
const TEMPLATES: &[Template] = &[
    // 城乡建设 / 市容环卫
    t("01.01.01", C, "{estate}{bldg}号楼东侧垃圾桶已经{days}没人清运，垃圾都堆到地上了，气味很大，夏天还招苍蝇，希望尽快处理。"),
    t("01.01.01", C, "{road}路边的垃圾站每天早上{early}就开始清运，压缩车噪音很大，清运后地面污水横流，希望调整清运时间并冲洗地面。"),
    t("01.01.01", S, "{estate}的垃圾分类桶站只在早晚开放，上班族根本赶不上投放时间，建议延长开放时间或增设定时定点投放点。"),
    t("01.01.02", C, "{road}人行道上的落叶和垃圾{days}没人清扫，下雨后泥泞不堪，行人走路很不方便，希望环卫部门加强保洁。"),
    t("01.01.02", C, "{road}与{road2}交叉口附近地面有大片油污，疑似有餐馆倾倒泔水，路面很滑，已经有老人滑倒，希望尽快清理。"),
    t("01.01.03", C, "{landmark}旁边的公共厕所{days}没人打扫，里面很脏，洗手池也没有水，希望管理部门尽快处理。"),
    t("01.01.03", S, "{landmark}附近人流量大但只有一座公厕，周末经常排长队，建议增设移动厕所或延长开放时间。"),
    t("01.01.04", C, "{road}每天{evening}有很多流动摊贩占道摆摊卖水果和小吃，把人行道和非机动车道都堵死了，行人只能走机动车道，很危险，希望城管加强管理。"),
    t("01.01.04", R, "{road}{num}号一家{shop}长期在门口人行道上摆桌椅经营，晚上还占用盲道，多次劝说无效，现举报，希望依法处理。"),
    t("01.01.05", C, "{estate}{bldg}号楼楼道里堆满了住户的杂物、旧家具和纸箱，既影响通行又有火灾隐患，找物业说了多次没人管。"),
    t("01.01.05", C, "{road}路边有人长期堆放建筑垃圾和废旧家具，已经{days}了，越堆越多，希望有关部门清理。"),
    t("01.01.06", R, "最近每天{night}都有渣土车从{road}经过，车厢没有苫盖，沿路遗撒泥土，白天尘土飞扬，希望查处。"),
    t("01.01.06", C, "{road}附近工地出口没有冲洗设施，运输车辆把泥带到路上，下雨后满路泥浆，希望督促施工单位整改。"),
    // 城乡建设 / 市政设施
    t("01.02.01", C, "{road}{num}号附近路面有一个大坑，直径将近一米，晚上看不清，已经有骑电动车的人摔倒了，希望尽快修补。"),
    t("01.02.01", H, "{estate}内的主干道路面塌陷开裂，{days}前就报给物业了，物业说要等维修资金，希望相关部门协调维修。"),
    urgent("01.02.02", R, "{road}与{road2}交叉口东侧人行道上的井盖丢失，只放了一个塑料桶挡着，晚上非常危险，请尽快处理。"),
    t("01.02.02", C, "{road}{num}号门口的雨水井盖松动，车辆经过时一直咣当响，{night}也吵得睡不着，希望维修。"),
    t("01.02.03", C, "{road}靠近{landmark}的一段路灯已经{days}不亮了，晚上一片漆黑，行人和骑车的都不安全，希望尽快维修。"),
    t("01.02.03", H, "{estate}{bldg}号楼门前的路灯坏了很久，老人晚上出门不方便，物业说不归他们管，请问应该找谁？"),
    t("01.02.04", C, "{road}{num}号附近每次下雨都积水，最深处能没过脚踝，雨水口好像堵了，希望疏通。"),
    t("01.02.04", H, "{estate}{bldg}号楼化粪池污水外溢，院子里臭气熏天，已经{days}了，物业处理不了，请求帮助。"),
    // 城乡建设 / 园林绿化
    t("01.03.01", H, "{estate}{bldg}号楼南侧的大树长得比楼还高，树枝已经伸到{floor}楼窗户边，挡光还招虫子，希望园林部门修剪。"),
    urgent("01.03.01", C, "{road}路边的行道树树枝压在电线上，刮风时直冒火花，很危险，希望尽快修剪。"),
    t("01.03.02", C, "{landmark}周边的绿地长期无人养护，杂草长得半人高，蚊虫很多，希望加强管护。"),
    t("01.03.02", S, "{road}中间隔离带的绿植枯死了一大片，建议及时补种，美化道路环境。"),
    t("01.03.03", R, "{estate}{bldg}号楼一楼住户把楼前公共绿地圈起来种菜，还搭了棚子，其他居民意见很大，现举报。"),
    t("01.03.03", R, "{estate}有人私自砍伐小区绿地里的树木，{time}又砍了两棵，请有关部门调查。"),
    // 城乡建设 / 违法建设
    t("01.04.01", R, "{estate}{bldg}号楼顶楼住户在楼顶私自加盖房屋，已经施工{days}了，担心影响楼体安全，希望查处。"),
    t("01.04.01", R, "{road}{num}号一家{shop}在门前违规搭建彩钢板棚子，占用了人行道，希望拆除。"),
    urgent("01.04.02", R, "{estate}{bldg}号楼{room}室正在装修，把承重墙打掉了，楼下住户墙面已经出现裂缝，非常担心，请尽快制止。"),
    t("01.04.02", C, "{estate}{bldg}号楼有住户装修时拆改阳台外墙，物业制止无效，请住建部门来现场看看。"),
    // 住房 / 物业管理
    t("02.01.01", C, "{estate}物业服务太差了，楼道灯坏了{days}没人修，垃圾也不及时清，希望相关部门督促物业整改。"),
    t("02.01.01", C, "{estate}{bldg}号楼的单元门禁坏了{days}，物业一直拖着不修，外来人员随便进出，小区最近还丢了几辆电动车。"),
    t("02.01.01", H, "{estate}原来的物业公司撤场了，现在没人管，垃圾没人清，请问街道能不能协调引入新的物业？"),
    t("02.01.02", C, "{estate}的物业公司今年把物业费从每平方米1.2元涨到1.8元，没有经过业主大会同意，业主们不认可，请有关部门核查。"),
    t("02.01.02", Q, "请问{estate}的地面停车费由谁定价？物业说每月要收{fee}元，我们觉得太高了。"),
    urgent("02.01.03", H, "{estate}{bldg}号楼{unit}单元的电梯这个月已经坏了好几次，{time}还困了人，老人上下楼很不方便，要求彻底检修。"),
    t("02.01.03", H, "{estate}{bldg}号楼电梯停运已经{days}，家里{age}岁的老人要去医院复查下不了楼，物业说在等配件，请求帮助。"),
    t("02.01.04", Q, "{estate}的业主想成立业主委员会，请问需要准备哪些材料，向哪个部门申请？"),
    t("02.01.04", C, "{estate}业委会换届选举不公开，投票过程有问题，业主要求街道介入监督。"),
    // 住房 / 房屋质量
    t("02.02.01", H, "{estate}{bldg}号楼{room}室楼顶漏水，下雨时屋里要用盆接水，墙皮都泡掉了，房子还在保修期内，开发商不管。"),
    t("02.02.01", C, "住在{estate}{bldg}号楼，楼上卫生间漏水到我家，找楼上住户多次都不配合，物业也协调不了，请帮忙处理。"),
    t("02.02.02", Q, "请问{estate}有没有列入今年的老旧小区综合整治计划？楼体外墙保温和管线都很老化了。"),
    t("02.02.02", S, "{estate}是九十年代的老楼，没有电梯，住的大多是老人，建议加装电梯，希望政府给予支持。"),
    t("02.02.02", C, "{estate}老旧小区改造施工已经{months}了，道路挖开一直没恢复，出行很不方便，希望加快进度。"),
    // 住房 / 供暖
    t("02.03.01", C, "{estate}{bldg}号楼{room}室暖气不热，室内温度只有{temp}度左右，家里有老人孩子，找供热公司报修{days}了还没人来。"),
    t("02.03.01", H, "{estate}{bldg}号楼整栋楼暖气都不热，供热站说管道里有空气，放了几次气还是不行，请尽快解决。"),
    t("02.03.02", Q, "请问今年的供暖费收费标准是多少？{estate}的住户可以在哪里缴费，能不能网上交？"),
    t("02.03.02", C, "{estate}去年冬天暖气一直不热，室温不达标，今年却要全额缴纳供暖费，请问能不能退费？"),
    urgent("02.03.03", H, "{estate}{bldg}号楼{room}室暖气片接口漏水，水已经流到楼下了，联系不上供热公司，请紧急处理。"),
    t("02.03.03", C, "{road}{num}号附近的供热管道井一直冒热气，地面结冰，行人容易滑倒，希望尽快检修。"),
    // 住房 / 房屋租赁与保障
    t("02.04.01", H, "在{estate}租的房子合同还没到期，房东突然要求提前搬走，押金{amount}元也不退，请问如何维权？"),
    t("02.04.01", R, "{estate}{bldg}号楼有一套房子被改成了群租房，一套房住了十几个人，进出人员复杂，存在安全隐患，请查处。"),
    t("02.04.02", Q, "请问公租房申请需要什么条件？我家在{community}辖区，三口人，收入比较低。"),
    t("02.04.02", Q, "公租房申请已经提交{months}了，一直没有审核结果，请问现在进度如何？"),
    // 公用事业 / 供水
    urgent("03.01.01", H, "{estate}从{time}开始突然停水，事先没有任何通知，到现在还没来水，家里有老人孩子很不方便，请问什么时候恢复供水？"),
    t("03.01.01", C, "{estate}这个月已经停了三次水，每次都没有提前通知，影响生活，希望供水公司说明原因。"),
    t("03.01.02", C, "{estate}{bldg}号楼的自来水发黄，有明显异味，烧开后有很多沉淀，担心影响健康，希望检测水质。"),
    t("03.01.02", H, "{estate}的二次供水水箱多年没有清洗，打开水龙头有锈水，请有关部门检查。"),
    t("03.01.03", C, "{estate}{bldg}号楼{floor}楼以上水压很低，早晚用水高峰时基本没水，热水器都打不着火，希望解决。"),
    // 公用事业 / 供电
    t("03.02.01", H, "{estate}{bldg}号楼从{time}开始停电，没有接到任何通知，家里冰箱里的东西都要坏了，请问什么时候来电？"),
    t("03.02.01", C, "{road}一带最近频繁停电，一周停了好几次，影响沿街商户正常经营，希望供电公司排查原因。"),
    t("03.02.02", C, "{estate}{bldg}号楼晚上用电高峰时电压不稳，灯一闪一闪的，空调也启动不了，希望供电公司检修。"),
    t("03.02.02", H, "{estate}的电动车充电桩经常跳闸，物业说是电网负荷不够，请问能不能增容？"),
    // 公用事业 / 燃气
    urgent("03.03.01", H, "{estate}{bldg}号楼{unit}单元楼道里有很浓的燃气味，怀疑燃气管道泄漏，住户很害怕，请立即派人处理。"),
    urgent("03.03.01", R, "{road}{num}号附近施工挖断了燃气管道，现场有刺鼻气味，请燃气公司马上来处理。"),
    t("03.03.02", Q, "{estate}的燃气停了{days}，燃气公司说是在改造管线，请问什么时候能恢复供气？"),
    t("03.03.02", C, "{estate}的燃气卡充值后还是无法供气，去营业厅排队{hours}也没解决，希望燃气公司给个说法。"),
    // 公用事业 / 通信
    t("03.04.01", C, "{estate}{bldg}号楼手机信号特别差，在家里打电话经常断线，希望运营商增设基站。"),
    t("03.04.01", S, "{landmark}周边人流大但手机信号差，建议在附近增设通信基站。"),
    t("03.04.02", C, "{estate}的宽带{days}前就坏了，报修了好几次运营商都没有上门，影响孩子上网课。"),
    t("03.04.02", R, "{estate}{bldg}号楼外墙上乱拉了很多通信线缆，杂乱无章，有的都垂到地面了，存在安全隐患。"),
    // 环境保护 / 噪声
    t("04.01.01", C, "{estate}{bldg}号楼楼上住户每天{night}还在装修砸墙，严重影响休息，请有关部门管一管。"),
    t("04.01.01", C, "{landmark}每天晚上都有人跳广场舞，音响开得很大，一直到{night}，周边居民无法休息，希望协调降低音量。"),
    t("04.01.01", C, "{estate}{bldg}号楼楼下有人养了好几条狗，每天{night}狗叫声不断，物业劝说无效。"),
    t("04.01.02", C, "{road}附近的建筑工地每天{night}还在施工，打桩机声音特别大，周边居民都睡不着，请问有没有夜间施工许可？"),
    t("04.01.02", R, "{road}{num}号附近有道路施工，连续{days}通宵作业，噪音扰民，希望查处。"),
    t("04.01.03", C, "{road}{num}号一家{shop}门口的音箱整天大声播放促销广告，周边居民不堪其扰，希望管一管。"),
    t("04.01.03", C, "{estate}楼下{shop}的空调外机和排风扇噪声很大，{night}还在响，严重影响楼上住户休息。"),
    // 环境保护 / 大气污染
    t("04.02.01", C, "{estate}{bldg}号楼底商的{shop}没有安装油烟净化设施，油烟直接排到居民窗户上，夏天都不敢开窗。"),
    t("04.02.01", R, "{road}{num}号附近有露天烧烤摊，每天晚上烟雾弥漫，还有人喝酒喧哗到{night}，希望取缔。"),
    t("04.02.02", C, "{road}附近建筑工地的裸露土方没有苫盖，刮风时尘土飞扬，附近居民家里全是灰，希望督促整改。"),
    t("04.02.02", R, "{road}附近有一个搅拌站露天作业，粉尘很大，周边居民意见很大，现举报。"),
    t("04.02.03", R, "{road}{num}号附近有人在空地上焚烧垃圾和塑料，黑烟很大，气味刺鼻，请尽快制止。"),
    t("04.02.03", R, "{estate}门口有人焚烧树叶和杂物，烟很大，附近居民都不敢开窗。"),
    t("04.02.04", C, "{estate}附近每天{night}都能闻到刺鼻的化学气味，怀疑附近有企业偷排废气，希望环保部门调查。"),
    t("04.02.04", C, "{road}一家汽修厂在露天喷漆，油漆味很重，周边居民闻了头晕，请执法检查。"),
    // 环境保护 / 水污染
    t("04.03.01", C, "{landmark}附近的河道水面发黑发臭，漂着很多垃圾，夏天气味尤其严重，希望治理。"),
    t("04.03.01", R, "发现有人往{road}旁边的河道里倾倒生活垃圾和建筑垃圾，请相关部门查处。"),
    t("04.03.02", R, "{road}{num}号附近有一个排污口往河里直排污水，水是灰黑色的，请查一查是哪家单位排的。"),
    t("04.03.02", R, "{estate}旁边的洗车店把污水直接排进雨水管道，请环保部门核查。"),
    // 交通运输 / 道路交通
    t("05.01.01", C, "{road}与{road2}交叉口的红绿灯坏了{days}，一直黄灯闪烁，车辆行人抢行，非常危险，希望尽快修复。"),
    t("05.01.01", S, "{road}与{road2}交叉口行人过街的绿灯时间太短，老人走不到一半就变灯了，建议延长绿灯时间。"),
    t("05.01.02", C, "每天早晚高峰{road}从{landmark}到{road2}路口堵得很厉害，走几百米要半小时，希望优化交通组织。"),
    t("05.01.02", S, "{landmark}门口早上送孩子的车辆乱停，造成{road}严重拥堵，建议设置临时停车区并安排交警疏导。"),
    t("05.01.03", R, "{road}{num}号附近长期有车辆违法停在非机动车道上，骑车的人只能绕到机动车道，很危险，希望交警加强执法。"),
    t("05.01.03", C, "{road}与{road2}交叉口有大货车长期违停，遮挡视线，多次险些发生事故。"),
    // 交通运输 / 公交
    t("05.02.01", S, "{estate}附近没有公交站，居民出行要走二十多分钟，建议{bus}路公交车在{road}增设一个站点。"),
    t("05.02.01", Q, "{bus}路公交车最近改线了，不再经过{road}，请问是临时调整还是永久调整？"),
    t("05.02.02", C, "{time}乘坐{bus}路公交车，司机在{landmark}站没有进站停车，直接开走了，好几位乘客都没上去。"),
    t("05.02.02", C, "{bus}路公交车发车间隔太长，在{road}站等了四十多分钟都没来，希望增加班次。"),
    t("05.02.02", P, "{time}乘坐{bus}路公交车时有位老人突然晕倒，司机立即停车并拨打120，一直照顾到救护车到来，特此表扬这位司机。"),
    // 交通运输 / 出租车
    t("05.03.01", C, "{time}在{landmark}打出租车，司机听说去{road}嫌路近直接拒载，希望查处。"),
    t("05.03.01", C, "从{landmark}乘出租车回家，司机故意绕路，平时二十元的路程收了{fare}元，有发票，希望处理。"),
    t("05.03.02", C, "通过网约车平台叫车，司机中途要求加价，不同意就让下车，向平台投诉后一直没有回复，请有关部门处理。"),
    t("05.03.02", Q, "请问网约车驾驶员从业资格证怎么办理，需要什么条件？"),
    // 交通运输 / 停车
    t("05.04.01", C, "{road}路边停车位的收费员不给打票，收了{fare}元也没有任何凭据，怀疑乱收费。"),
    t("05.04.01", Q, "请问{landmark}周边的路侧停车收费标准是多少？今天停了两个小时被收了{fare}元，感觉太贵了。"),
    t("05.04.02", C, "{landmark}门口共享单车堆积如山，把人行道都堵死了，盲道也被占了，希望企业及时清运。"),
    t("05.04.02", S, "{estate}门口共享单车乱停放严重，建议划定停放区域并安排专人管理。"),
    // 市场监管 / 消费维权
    t("06.01.01", C, "在{road}一家{gym}办了{amount}元的会员卡，现在店铺突然关门，老板联系不上，请求帮助追回费用。"),
    t("06.01.01", H, "在{road}的{gym}充值了{amount}元，还没用多少就要搬家了，商家不同意退卡，请问怎么办？"),
    t("06.01.02", C, "在{road}一家家电商场买的电热水壶用了不到一个月就漏电，商家拒绝退换，请维护消费者权益。"),
    t("06.01.02", C, "在{landmark}附近的家电卖场买了一台空调，安装后制冷效果很差，厂家和商家互相推诿。"),
    t("06.01.03", C, "在网上买的羽绒服收到后发现是假冒品牌，商家拒绝退货，商家登记的地址在{road}，请查处。"),
    t("06.01.03", H, "网购的生鲜水果收到时已经腐烂，平台客服一直推脱，请问消费者应该怎么维权？"),
    // 市场监管 / 食品安全
    t("06.02.01", C, "{time}在{road}一家{shop}吃饭后，一家三口都出现腹泻呕吐，怀疑食物不卫生，请市场监管部门检查。"),
    t("06.02.01", R, "{road}{num}号的{shop}后厨卫生很差，有老鼠乱窜，食材直接放在地上，请检查。"),
    t("06.02.02", R, "在{estate}附近的{store}买到过期牛奶，已经过期{days}了还在货架上卖，请查处。"),
    t("06.02.02", C, "在{landmark}附近的{store}买的熟食有异味，明显变质了，商家不承认。"),
    t("06.02.03", R, "{estate}{bldg}号楼有住户在家里开私人厨房做外卖，没有任何证照，油烟也很大，请查处。"),
    t("06.02.03", R, "{road}有一家{shop}没有营业执照和食品经营许可证，卫生条件很差，请依法查处。"),
    // 市场监管 / 价格
    t("06.03.01", C, "{time}在{landmark}附近一家{shop}吃饭，结账时的价格比菜单上标的高出很多，商家态度蛮横。"),
    t("06.03.01", R, "{road}一家{store}先提价再打折，标的原价比平时高了一倍，属于虚假促销。"),
    t("06.03.02", R, "{road}的几家{store}商品都不标价，结账时随意要价，请市场监管部门检查。"),
    t("06.03.02", C, "{landmark}停车场的收费标准没有公示，出场时被收了{fare}元，不知道是怎么计算的。"),
    // 劳动社保 / 欠薪
    t("07.01.01", H, "我在{road}的{employer}工作，公司已经{months}没有发工资了，共拖欠{amount}元，老板一直推脱，请帮忙追讨。"),
    t("07.01.01", H, "从{employer}离职已经{months}了，最后一个月的工资{amount}元一直不给结，请问应该去哪里投诉？"),
    t("07.01.02", H, "我们十几个工人在{road}的建筑工地干活，包工头拖欠工资{amount}元，现在人联系不上，请求帮助。"),
    t("07.01.02", R, "{road}附近的工地拖欠农民工工资，工人们在工地门口聚集讨薪，希望劳动监察部门尽快介入。"),
    // 劳动社保 / 社保
    t("07.02.01", Q, "单位以前一直没给我缴纳社保，现在想补缴，请问应该怎么办理？"),
    t("07.02.01", C, "在{employer}入职{months}了一直不给交社保，说试用期不交，请问这样合法吗？"),
    t("07.02.02", Q, "我今年刚满退休年龄，请问办理退休需要准备哪些材料？养老金从什么时候开始发放？"),
    t("07.02.02", Q, "我父亲{age}岁了，这个月的养老金没有按时到账，请问是什么原因？"),
    t("07.02.03", Q, "社保卡丢了，请问怎么补办？能不能在{community}的便民服务站办理？"),
    t("07.02.03", H, "社保卡激活时一直提示信息有误，去银行办了两次都没成功，请帮忙协调解决。"),
    // 劳动社保 / 就业
    t("07.03.01", Q, "我是今年毕业的大学生，户口在{community}，请问区里有没有就业见习岗位和求职补贴？"),
    t("07.03.01", Q, "请问失业保险金怎么申领？我在{employer}工作了三年，上个月被辞退了。"),
    t("07.03.02", H, "{employer}没有任何理由就把我辞退了，也不给经济补偿，请问怎么申请劳动仲裁？"),
    t("07.03.02", C, "在{employer}工作{months}了，单位一直不和我签劳动合同，请劳动部门查处。"),
    // 卫生健康 / 医疗服务
    t("08.01.01", C, "{time}带孩子去{hospital}看急诊，等了{hours}都没有医生接诊，护士态度也很差，希望医院改进。"),
    t("08.01.01", S, "{hospital}挂号太难，网上号源一放出来就没了，建议增加号源，并为老年人保留现场挂号窗口。"),
    t("08.01.02", C, "家人在{hospital}做完手术后出现感染，医院不承认有责任，希望卫生健康部门介入调查。"),
    t("08.01.02", Q, "在{hospital}看病时感觉收费不合理，请问怎样申请医疗费用复核？"),
    // 卫生健康 / 公共卫生
    t("08.02.01", Q, "孩子满八个月了，请问{community}附近哪个社区卫生服务中心可以打疫苗，需要预约吗？"),
    t("08.02.01", Q, "请问成人带状疱疹疫苗在哪里可以接种，费用是多少？"),
    t("08.02.02", C, "{estate}{bldg}号楼附近老鼠特别多，晚上在垃圾桶附近成群出没，希望组织灭鼠。"),
    t("08.02.02", C, "{estate}地下室长期积水，蚊子特别多，希望物业和有关部门及时消杀。"),
    t("08.02.03", R, "{road}一家网吧里很多人抽烟，烟雾缭绕，也没有禁烟标识，请卫生监督部门检查。"),
    t("08.02.03", C, "{landmark}室内候车区经常有人吸烟，工作人员也不制止，希望加强控烟管理。"),
    // 卫生健康 / 医疗保障
    t("08.03.01", Q, "在外地住院花了{amount}元，请问回来以后怎么报销，需要准备哪些材料？"),
    t("08.03.01", C, "医保报销申请提交{months}了，一直没有到账，打电话问也说不清楚，希望尽快处理。"),
    t("08.03.02", Q, "父母要去外地跟子女一起生活，请问异地就医备案怎么办理，可以在网上办吗？"),
    t("08.03.02", Q, "请问长期在外地工作的人员，异地就医备案后门诊费用能直接结算吗？"),
    // 教育
    t("09.01.01", Q, "孩子明年九月满三岁，户口在{community}，请问附近有哪些公办幼儿园，什么时候报名？"),
    t("09.01.01", S, "{estate}周边只有一所幼儿园，学位严重不足，建议政府增设普惠性幼儿园。"),
    t("09.01.02", C, "{road}一家民办幼儿园每学期除了保育费还要另收{fee}元的兴趣班费用，家长不交就不让孩子参加活动。"),
    t("09.01.02", Q, "请问普惠性民办幼儿园的收费标准是多少，在哪里可以查询？"),
    t("09.02.01", Q, "我家住在{estate}，孩子今年上小学，请问对口的是哪所学校，需要准备什么材料？"),
    t("09.02.01", Q, "我们是随迁子女，在{community}租房居住，请问孩子在本区上小学需要什么条件？"),
    t("09.02.02", C, "{landmark}附近的学校门口上下学时段车辆乱停乱放，孩子过马路很危险，希望交警维持秩序。"),
    t("09.02.02", R, "{road}的学校门口有无证小摊贩卖三无零食，很多学生购买，担心食品安全，请查处。"),
    t("09.03.01", H, "给孩子在{road}的一家培训机构报了{amount}元的课程，现在机构关门了，老师也联系不上，请求帮助退费。"),
    t("09.03.01", C, "{road}的一家培训机构以各种理由拒绝退还剩余课时费{amount}元，请教育部门督促处理。"),
    t("09.03.02", R, "{estate}{bldg}号楼有人在居民楼里开办学科类培训班，周末有几十个学生，存在安全隐患，请查处。"),
    t("09.03.02", R, "{road}一家培训机构在假期违规开展学科类培训，请教育部门核查。"),
    // 民政 / 养老
    t("10.01.01", C, "我母亲住在{road}的一家养老院，护理人员态度很差，老人身上有压疮，希望民政部门检查。"),
    t("10.01.01", Q, "请问区里的公办养老院怎么申请入住？家里老人{age}岁，生活不能自理。"),
    t("10.01.02", Q, "家里老人{age}岁，独自住在{estate}，请问社区有没有上门助餐或助浴服务？"),
    t("10.01.02", S, "{community}的老年人越来越多，建议在社区开设老年餐桌，解决老人吃饭难的问题。"),
    t("10.01.03", Q, "父亲今年满八十岁了，请问高龄津贴怎么申请，需要到{community}办理吗？"),
    t("10.01.03", C, "家里老人的高龄津贴已经{months}没有发放了，社区说在核查，请问是什么原因？"),
    // 民政 / 社会救助
    t("10.02.01", Q, "我家只有我一个人有收入，孩子生病花了很多钱，请问符合什么条件可以申请低保？"),
    t("10.02.01", C, "申请低保已经{months}了，{community}一直说在审核，请问进展如何？"),
    t("10.02.02", H, "我是外地来的，在{landmark}附近钱包和手机被偷了，身无分文，请问能不能申请临时救助？"),
    t("10.02.02", H, "家里突发火灾，东西都烧没了，请问可以申请临时救助吗，需要什么材料？"),
    // 民政 / 殡葬
    t("10.03.01", Q, "家里老人刚去世，请问办理丧事需要开哪些证明，殡仪馆的服务收费标准是多少？"),
    t("10.03.01", C, "殡仪馆强制销售高价骨灰盒和寿衣，不买就不给办理，希望民政部门核查。"),
    t("10.03.02", R, "{road}路口每到晚上就有人烧纸祭扫，火星乱飞，地上一片狼藉，存在火灾隐患。"),
    t("10.03.02", S, "建议在{community}设置文明祭扫点，引导居民不要在路边焚烧纸钱。"),
    // 民政 / 残疾人服务
    t("10.04.01", Q, "我是肢体二级残疾，请问可以申请哪些补贴，到哪里办理？"),
    t("10.04.01", Q, "请问残疾人证怎么办理，需要去哪家医院做鉴定？"),
    t("10.04.02", C, "{landmark}门口的无障碍坡道被停放的车辆占用，坐轮椅根本上不去，希望管理。"),
    t("10.04.02", S, "{estate}是老旧小区，楼门口都是台阶，建议增设无障碍坡道和扶手。"),
    // 公共安全 / 社会治安
    t("11.01.01", R, "{estate}{bldg}号楼有一套出租房经常有陌生人进出，晚上很吵，怀疑有违法活动，请公安机关核查。"),
    t("11.01.01", C, "{estate}最近电动车电瓶经常被偷，监控也坏了，希望派出所加强巡逻。"),
    t("11.01.02", H, "家里老人接到冒充公检法的电话，被骗转账{amount}元，已经报警，请问还能追回吗？"),
    t("11.01.02", R, "{road}有人摆摊以送鸡蛋为名推销保健品，专门骗老年人，请有关部门查处。"),
    t("11.01.03", Q, "请问身份证丢了怎么补办，能不能异地办理，需要多长时间？"),
    t("11.01.03", Q, "孩子出生后怎么办理落户，需要准备哪些材料，可以在网上办吗？"),
    // 公共安全 / 消防安全
    t("11.02.01", R, "{estate}的消防通道被私家车长期占用，万一发生火灾消防车根本进不来，物业不管，请有关部门处理。"),
    t("11.02.01", C, "{estate}{bldg}号楼的安全出口被杂物堵死了，还上了锁，存在重大安全隐患。"),
    t("11.02.02", R, "{estate}{bldg}号楼有住户从楼上拉电线给楼下的电动车充电，电线悬在半空，非常危险。"),
    t("11.02.02", S, "{estate}居民电动车多，充电难，很多人只能飞线充电，建议增设集中充电桩。"),
    t("11.02.02", R, "{estate}{bldg}号楼有人把电动车推进楼道和电梯里充电，劝说无效，存在火灾隐患。"),
    t("11.02.03", C, "{estate}楼道里的消火栓都没有水，灭火器也过期了，物业一直不更换。"),
    t("11.02.03", R, "{road}{num}号一家{store}把仓库设在地下室，堆满了易燃物品，没有任何消防设施。"),
    // 公共安全 / 安全生产
    urgent("11.03.01", R, "{road}附近有一家小作坊违规储存大量液化气罐，就在居民楼旁边，非常危险，请尽快检查。"),
    t("11.03.01", R, "{road}的建筑工地工人高空作业不系安全带，也没有防护网，请安全监管部门检查。"),
    t("11.03.01", C, "{landmark}附近的广告牌年久失修，有的已经松动，刮大风时随时可能掉下来。"),
    // 文体旅游
    t("12.01.01", Q, "请问{landmark}附近周末有什么免费的文化活动？老年人怎么报名参加？"),
    t("12.01.01", S, "建议{community}多组织一些适合老年人的文化活动，比如书法、合唱、戏曲班。"),
    t("12.01.01", P, "{community}组织的邻里文化节办得特别好，老人孩子都很喜欢，感谢社区工作人员的辛苦付出。"),
    t("12.01.02", R, "{road}有一家网吧允许未成年人进入上网，晚上十一点还有很多中学生，请文化执法部门检查。"),
    t("12.01.02", R, "{road}一家KTV营业到凌晨，音响声很大，还有未成年人出入，请查处。"),
    t("12.02.01", C, "{estate}里的健身器材已经坏了{months}，有的螺丝松动，很危险，老人孩子经常使用，希望尽快维修。"),
    t("12.02.01", S, "{landmark}周边没有健身场地，建议增设一些健身器材和健身步道。"),
    t("12.02.02", Q, "请问{landmark}附近有没有对市民开放的体育场馆？开放时间和收费标准是怎样的？"),
    t("12.02.02", C, "学校体育场地说好了节假日向周边居民开放，但{estate}附近的学校一直锁着门。"),
    t("12.03.01", C, "在{landmark}参加一日游，导游强迫购物，不买就甩脸色，请文旅部门处理。"),
    t("12.03.01", C, "{landmark}的门票价格公示和实际收费不一致，多收了钱，希望核查。"),
    t("12.03.01", S, "{landmark}节假日游客太多，厕所和停车位严重不足，建议实行预约限流。"),
    // 政务服务
    t("13.01.01", Q, "请问个体工商户营业执照怎么办理，需要带哪些材料到区政务服务中心办理？"),
    t("13.01.01", Q, "请问在哪里可以办理居住证，{community}的便民服务站能不能办？"),
    t("13.01.01", Q, "请问不动产权证书丢了怎么补办，大概需要多长时间？"),
    t("13.01.02", C, "{time}到区政务服务中心办事，窗口工作人员态度冷漠，让我来回跑了三趟，需要的材料一次也没说清楚。"),
    t("13.01.02", P, "{time}在区政务服务中心办理业务，窗口的工作人员非常耐心，一次性告知了所有材料，特此表扬。"),
    t("13.02.01", Q, "我们是一家小微企业，在{road}经营，请问今年有哪些减税降费和稳岗补贴政策，怎么申请？"),
    t("13.02.01", Q, "请问区里对新开业的个体工商户有没有房租补贴，到哪个部门申请？"),
    t("13.02.02", H, "我们公司在{landmark}附近，{road}施工围挡把公司门口堵住了，货车进不来，希望协调留出通道。"),
    t("13.02.02", C, "公司申请的项目审批材料已经提交{months}了，一直没有答复，请有关部门加快办理。"),
    t("13.03.01", Q, "请问个人所得税年度汇算怎么操作，专项附加扣除可以补报吗？"),
    t("13.03.01", Q, "出租自己家的房子需要交什么税，在哪里可以代开发票？"),
    t("13.03.02", R, "在{road}一家{shop}消费后商家拒绝开具发票，说开发票要加收税点，请税务部门查处。"),
    t("13.03.02", C, "在{road}的一家{store}购物要求开发票，商家以机器坏了为由一直拖着不开。"),
    // 其他
    t("14.01.01", S, "建议在{road}增设非机动车道，现在早晚高峰电动车和汽车混行，很不安全。"),
    t("14.01.01", S, "建议在{landmark}周边增设一些座椅和遮阳设施，方便老人休息。"),
    t("14.01.01", S, "{road}与{road2}交叉口没有人行横道，建议施划斑马线并增设信号灯。"),
    t("14.01.02", P, "{estate}的下水道堵了，{community}的工作人员接到诉求后当天就协调疏通了，特此表扬，感谢他们的及时处理。"),
    t("14.01.02", P, "前段时间反映的{road}路灯问题已经修好了，维修师傅晚上加班抢修，非常感谢，给热线和相关部门点赞。"),
    t("14.01.02", P, "{estate}有位老人走失，{community}和派出所的同志连夜帮忙寻找，最终找到了老人，家属非常感激。"),
    t("14.02.01", Q, "请问{landmark}附近哪里有24小时营业的药店？"),
    t("14.02.01", H, "在{landmark}附近捡到一个钱包，里面有身份证和银行卡，请问应该交到哪里？"),
    t("14.02.01", C, "{estate}附近有流浪狗成群出没，晚上追咬路人，孩子都不敢出门，希望有关部门处理。"),
];

const EARLY: &[&str] = &["五点", "五点半", "六点前", "天不亮"];
const EVENING: &[&str] = &["傍晚", "下午五点以后", "晚上", "早晚高峰"];
const NIGHT: &[&str] = &["晚上十点以后", "晚上十一点多", "夜里十二点", "凌晨一点", "凌晨两三点", "早上六点前"];
const DAYS: &[&str] = &["两天", "三天", "四五天", "一个星期", "十来天", "半个多月"];
const HOURS: &[&str] = &["两个小时", "三个多小时", "一上午", "大半天"];
const MONTHS: &[&str] = &["两个月", "三个月", "四个多月", "半年", "大半年"];
const TIME: &[&str] = &["今天上午", "今天早上", "昨天晚上", "今天下午三点左右", "前天", "本周一", "上周六"];
const SHOPS: &[&str] = &["烧烤店", "火锅店", "麻辣烫店", "小饭馆", "早点铺", "面馆", "快餐店", "酒吧"];
const STORES: &[&str] = &["超市", "便利店", "生鲜超市", "社区超市", "小卖部", "日用品店"];
const GYMS: &[&str] = &["健身房", "美容店", "理发店", "游泳馆", "洗车店", "少儿游泳馆"];
const EMPLOYERS: &[&str] = &["一家装修公司", "一家餐馆", "一家物流公司", "一家保洁公司", "一家商贸公司", "一家汽修厂"];
const HOSPITALS: &[&str] = &["区人民医院", "区中医医院", "区妇幼保健院", "社区卫生服务中心"];
const PHONE_OPENINGS: &[&str] = &["来电人反映：", "市民来电反映：", "来电人称，", "来电反映："];
const CLOSINGS: &[&str] =
    &["请相关部门尽快核实处理。", "希望尽快给予答复。", "希望相关部门重视。", "来电人要求回复处理结果。"];

/// The most common surnames repeat, so they come up more often, as they do.
const SURNAMES: &[&str] = &[
    "王", "王", "王", "李", "李", "李", "张", "张", "张", "刘", "刘", "陈", "陈", "杨", "杨", "赵", "黄", "周", "吴",
    "徐", "孙", "胡", "朱", "高", "林", "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董",
    "萧", "程", "曹", "袁", "邓", "许", "傅", "沈", "曾", "彭", "吕", "苏", "卢", "蒋", "蔡", "贾", "丁", "魏", "薛",
    "叶", "阎", "余", "潘", "杜", "戴", "夏", "钟", "汪", "田", "任", "姜", "范", "方", "石", "姚", "谭", "廖", "邹",
    "熊", "金", "陆", "郝", "孔", "白", "崔", "康", "毛", "邱", "秦", "江", "史", "顾", "侯", "邵", "孟", "龙", "万",
    "段", "雷", "钱", "汤", "尹",
];
const MALE_GIVEN: &[&str] = &[
    "伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "辉", "鹏", "飞", "浩", "建国", "志强", "国华",
    "海涛", "俊杰", "子轩", "浩然", "宇航", "文博", "晓东", "立新", "振华", "明辉", "永刚", "德明", "家豪", "天佑",
    "一鸣", "思远", "卫东", "建军", "国庆", "长春", "志刚", "红军",
];
const FEMALE_GIVEN: &[&str] = &[
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "燕", "玲", "婷", "雪", "慧", "颖", "洁", "秀英", "桂兰", "丽娟",
    "晓燕", "静怡", "雨涵", "欣怡", "梓涵", "淑芬", "玉梅", "春梅", "海燕", "婷婷", "雪梅", "佳琪", "思雨", "美玲",
    "红霞", "丽华", "慧敏", "秀兰", "凤英", "桂芳", "淑珍", "晓丽",
];
/// Mainland mobile prefixes in use.
const MOBILE_PREFIXES: &[&str] = &[
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "145", "147", "150", "151", "152", "153",
    "155", "156", "157", "158", "159", "166", "173", "175", "176", "177", "178", "180", "181", "182", "183", "184",
    "185", "186", "187", "188", "189", "191", "193", "195", "198", "199",
];

/// A template whose category is a leaf of the district, with the streets that can fill it.
struct Usable {
    template: &'static Template,
    streets: Vec<usize>,
}

/// Which of the district's place lists a template needs.
struct Needs {
    community: bool,
    road: bool,
    road2: bool,
    landmark: bool,
}

impl Template {
    fn needs(&self) -> Needs {
        let has = |slot: &str| self.text.contains(slot);
        Needs {
            // The caller's own estate is the address whenever the text names no other place.
            community: has("{estate}") || has("{community}") || !(has("{road}") || has("{road2}") || has("{landmark}")),
            road: has("{road}") || has("{road2}"),
            road2: has("{road2}"),
            landmark: has("{landmark}"),
        }
    }
}

fn usable_templates(district: &District) -> Vec<Usable> {
    TEMPLATES
        .iter()
        .filter(|t| district.is_leaf_category(t.category))
        .filter_map(|template| {
            let needs = template.needs();
            let streets: Vec<usize> = district
                .streets
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    (!needs.community || s.communities.iter().any(|c| !c.estates.is_empty()))
                        && (!needs.road || !s.roads.is_empty())
                        && (!needs.road2 || s.roads.len() >= 2)
                        && (!needs.landmark || !s.landmarks.is_empty())
                })
                .map(|(i, _)| i)
                .collect();
            (!streets.is_empty()).then_some(Usable { template, streets })
        })
        .collect()
}

fn pick_weighted(rng: &mut StdRng, weights: &[u32], total: u32) -> usize {
    let mut roll = rng.gen_range(0..total.max(1));
    for (i, w) in weights.iter().enumerate() {
        if roll < *w {
            return i;
        }
        roll -= w;
    }
    weights.len() - 1
}

fn pick<'a>(rng: &mut StdRng, options: &[&'a str]) -> &'a str {
    options.choose(rng).copied().unwrap_or("")
}

/// The places of one draft, all on one street.
struct Place<'d> {
    street: &'d Street,
    community: Option<&'d Community>,
    estate: Option<&'d str>,
    road: Option<&'d str>,
    road2: Option<&'d str>,
    landmark: Option<&'d str>,
}

fn draft(district: &District, usable: &Usable, rng: &mut StdRng) -> DemoTicketDraft {
    let template = usable.template;
    let needs = template.needs();
    let street = &district.streets[*usable.streets.choose(rng).expect("usable templates have streets")];

    let mut place = Place { street, community: None, estate: None, road: None, road2: None, landmark: None };
    if needs.community {
        let with_estates: Vec<&Community> = street.communities.iter().filter(|c| !c.estates.is_empty()).collect();
        let community = *with_estates.choose(rng).expect("usable templates have estates");
        place.community = Some(community);
        place.estate = community.estates.choose(rng).map(String::as_str);
    }
    if needs.road {
        let mut roads: Vec<&str> = street.roads.iter().map(String::as_str).collect();
        roads.shuffle(rng);
        place.road = roads.first().copied();
        place.road2 = roads.get(1).copied();
    }
    if needs.landmark {
        place.landmark = street.landmarks.choose(rng).map(String::as_str);
    }

    let mut slots = Slots::default();
    let body = render(template.text, &place, &mut slots, rng);
    let address = address(template, &place, &mut slots, rng);

    let kind = template.kind;
    let channel = CHANNELS[pick_weighted(rng, &CHANNEL_WEIGHTS, CHANNEL_WEIGHTS.iter().sum())];
    let content = dress(body, kind, channel, rng);
    let urgent = if template.urgent { rng.gen_bool(0.7) } else { rng.gen_bool(0.04) };
    // Reports (举报) ask for secrecy far more often than anything else.
    let confidential = rng.gen_bool(if kind == "report" { 0.35 } else { 0.06 });

    DemoTicketDraft {
        kind,
        channel,
        urgency: if urgent { "urgent" } else { "normal" },
        category: template.category.to_string(),
        street: street.code.clone(),
        community: if address_at_home_or_estate(template) { place.community.map(|c| c.code.clone()) } else { None },
        address,
        content,
        caller_name: caller_name(rng),
        caller_phone: caller_phone(rng),
        confidential,
    }
}

/// Whether the address is an estate (the one the text names, or the caller's home when the
/// text names no road or landmark), which also gives the community.
fn address_at_home_or_estate(template: &Template) -> bool {
    template.text.contains("{estate}") || !["{road}", "{road2}", "{landmark}"].iter().any(|s| template.text.contains(s))
}

/// Where the thing happened: the estate when the text names one, else the road, else the
/// landmark, else the caller's home.
fn address(template: &Template, place: &Place, slots: &mut Slots, rng: &mut StdRng) -> String {
    let text = template.text;
    let street = &place.street.name;
    if address_at_home_or_estate(template) {
        let estate = place.estate.unwrap_or_default();
        let bldg = slots.get("bldg", place, rng);
        let with_unit = rng.gen_bool(0.5);
        let mut address = format!("{street}{estate}{bldg}号楼");
        if with_unit {
            let unit = slots.get("unit", place, rng);
            address.push_str(&format!("{unit}单元"));
        }
        address
    } else if text.contains("{road2}") {
        format!("{}与{}交叉口", place.road.unwrap_or_default(), place.road2.unwrap_or_default())
    } else if text.contains("{road}") {
        let num = slots.get("num", place, rng);
        format!("{}{num}号附近", place.road.unwrap_or_default())
    } else {
        format!("{}附近", place.landmark.unwrap_or_default())
    }
}

/// Values already chosen for this draft, so a slot used twice reads the same.
#[derive(Default)]
struct Slots {
    chosen: Vec<(&'static str, String)>,
}

impl Slots {
    fn get(&mut self, name: &str, place: &Place, rng: &mut StdRng) -> String {
        if let Some((_, value)) = self.chosen.iter().find(|(n, _)| *n == name) {
            return value.clone();
        }
        let (key, value): (&'static str, String) = match name {
            "estate" => ("estate", place.estate.unwrap_or_default().to_string()),
            "community" => ("community", place.community.map(|c| c.name.clone()).unwrap_or_default()),
            "road" => ("road", place.road.unwrap_or_default().to_string()),
            "road2" => ("road2", place.road2.unwrap_or_default().to_string()),
            "landmark" => ("landmark", place.landmark.unwrap_or_default().to_string()),
            "street" => ("street", place.street.name.clone()),
            "num" => ("num", rng.gen_range(1..=260).to_string()),
            "bldg" => ("bldg", rng.gen_range(1..=28).to_string()),
            "unit" => ("unit", rng.gen_range(1..=6).to_string()),
            "floor" => ("floor", rng.gen_range(2..=18).to_string()),
            "room" => {
                let floor: u32 = self.get("floor", place, rng).parse().unwrap_or(3);
                ("room", format!("{floor}0{}", rng.gen_range(1..=4)))
            }
            "days" => ("days", pick(rng, DAYS).to_string()),
            "hours" => ("hours", pick(rng, HOURS).to_string()),
            "months" => ("months", pick(rng, MONTHS).to_string()),
            "time" => ("time", pick(rng, TIME).to_string()),
            "early" => ("early", pick(rng, EARLY).to_string()),
            "evening" => ("evening", pick(rng, EVENING).to_string()),
            "night" => ("night", pick(rng, NIGHT).to_string()),
            // Round figures, as people say them.
            "amount" => ("amount", (rng.gen_range(8..=300) * 100).to_string()),
            "fee" => ("fee", (rng.gen_range(10..=60) * 10).to_string()),
            "fare" => ("fare", rng.gen_range(25..=95).to_string()),
            "bus" => ("bus", rng.gen_range(1..=128).to_string()),
            "age" => ("age", rng.gen_range(78..=96).to_string()),
            "temp" => ("temp", rng.gen_range(12..=16).to_string()),
            "shop" => ("shop", pick(rng, SHOPS).to_string()),
            "store" => ("store", pick(rng, STORES).to_string()),
            "gym" => ("gym", pick(rng, GYMS).to_string()),
            "employer" => ("employer", pick(rng, EMPLOYERS).to_string()),
            "hospital" => ("hospital", pick(rng, HOSPITALS).to_string()),
            _ => return format!("{{{name}}}"),
        };
        self.chosen.push((key, value.clone()));
        value
    }
}

fn render(text: &str, place: &Place, slots: &mut Slots, rng: &mut StdRng) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push_str(&slots.get(&rest[open + 1..open + close], place, rng));
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// What the operator adds around the resident's words: phone tickets are written in the
/// third person ("来电人反映"), and complaints often end with the resident's demand.
fn dress(body: String, kind: &str, channel: &str, rng: &mut StdRng) -> String {
    let mut content = String::with_capacity(body.len() + 48);
    match channel {
        "phone" if rng.gen_bool(0.5) => content.push_str(pick(rng, PHONE_OPENINGS)),
        "letter" => content.push_str("来信反映："),
        _ => {}
    }
    content.push_str(&body);
    if matches!(kind, "complaint" | "report" | "help") && rng.gen_bool(0.25) {
        let closing = pick(rng, CLOSINGS);
        // "来电人…" only fits a call.
        if channel == "phone" || !closing.starts_with("来电人") {
            content.push_str(closing);
        }
    }
    content
}

fn caller_name(rng: &mut StdRng) -> String {
    let surname = pick(rng, SURNAMES);
    let female = rng.gen_bool(0.55);
    // Many callers give only a surname and a title.
    if rng.gen_bool(0.35) {
        return format!("{surname}{}", if female { "女士" } else { "先生" });
    }
    let given = pick(rng, if female { FEMALE_GIVEN } else { MALE_GIVEN });
    format!("{surname}{given}")
}

fn caller_phone(rng: &mut StdRng) -> String {
    if rng.gen_bool(0.85) {
        format!("{}{:08}", pick(rng, MOBILE_PREFIXES), rng.gen_range(0..100_000_000u32))
    } else {
        format!("010-{}{:07}", rng.gen_range(5..=8), rng.gen_range(0..10_000_000u32))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;

    fn district() -> District {
        District::demo()
    }

    /// Whether `phone` is a mainland mobile number (1[3-9] and 9 more digits) or a landline
    /// written `0AA-NNNNNNNN` / `0AAA-NNNNNNN` (area code, hyphen, 7–8 digit local number).
    fn is_valid_phone(phone: &str) -> bool {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let b = phone.as_bytes();
        if b.len() == 11 && digits(phone) {
            return b[0] == b'1' && (b'3'..=b'9').contains(&b[1]);
        }
        match phone.split_once('-') {
            Some((area, local)) => {
                digits(area)
                    && digits(local)
                    && (3..=4).contains(&area.len())
                    && area.starts_with('0')
                    && !area[1..].starts_with('0')
                    && (7..=8).contains(&local.len())
                    && !local.starts_with(['0', '1'])
            }
            None => false,
        }
    }

    #[test]
    fn same_seed_same_drafts() {
        let d = district();
        assert_eq!(generate(&d, 200, 7), generate(&d, 200, 7));
        assert_ne!(generate(&d, 50, 7), generate(&d, 50, 8));
        assert_eq!(generate(&d, 0, 7), vec![]);
    }

    #[test]
    fn drafts_are_well_formed() {
        let d = district();
        for draft in generate(&d, 2000, 42) {
            assert!(d.is_leaf_category(&draft.category), "{}", draft.category);
            let street = d.street(&draft.street).unwrap_or_else(|| panic!("{}", draft.street));
            if let Some(c) = &draft.community {
                assert_eq!(d.community(c).unwrap().0.code, street.code);
            }
            assert!(is_valid_phone(&draft.caller_phone), "{}", draft.caller_phone);
            assert!(super::super::privacy::validate_phone(&draft.caller_phone).is_ok(), "{}", draft.caller_phone);
            assert!(KINDS.contains(&draft.kind) && CHANNELS.contains(&draft.channel));
            assert!(URGENCIES.contains(&draft.urgency));
            assert!(!draft.content.is_empty() && draft.content.chars().count() <= 4000);
            assert!(!draft.content.contains('{') && !draft.content.contains('}'), "{}", draft.content);
            assert!(!draft.caller_name.is_empty() && draft.caller_name.chars().count() <= 4, "{}", draft.caller_name);
            // The address leads back to the draft's street and community.
            let loc = d.locate(&draft.address).unwrap_or_else(|| panic!("{}", draft.address));
            assert_eq!(loc.street, draft.street, "{}", draft.address);
            assert_eq!(loc.community, draft.community, "{}", draft.address);
        }
    }

    #[test]
    fn the_mix_looks_like_a_real_centre() {
        let drafts = generate(&district(), 4000, 1);
        let share = |pred: &dyn Fn(&DemoTicketDraft) -> bool| {
            drafts.iter().filter(|d| pred(d)).count() as f64 / drafts.len() as f64
        };
        let mut kinds: HashMap<&str, usize> = HashMap::new();
        for d in &drafts {
            *kinds.entry(d.kind).or_default() += 1;
        }
        let top = kinds.iter().max_by_key(|(_, n)| **n).map(|(k, _)| *k).unwrap();
        assert_eq!(top, "complaint");
        assert!(kinds["help"] > kinds["consult"] && kinds["praise"] < kinds["suggestion"], "{kinds:?}");
        assert!(KINDS.iter().all(|k| kinds.contains_key(k)), "{kinds:?}");
        let urgent = share(&|d| d.urgency == "urgent");
        assert!((0.03..0.08).contains(&urgent), "urgent {urgent}");
        let confidential = share(&|d| d.confidential);
        assert!((0.05..0.12).contains(&confidential), "confidential {confidential}");
        assert!(share(&|d| d.channel == "phone") > 0.5);
        let categories: HashSet<&str> = drafts.iter().map(|d| d.category.as_str()).collect();
        assert_eq!(categories.len(), district().leaf_categories().count());
    }

    #[test]
    fn templates_cover_the_shipped_taxonomy() {
        let d = district();
        for template in TEMPLATES {
            assert!(d.is_leaf_category(template.category), "{}", template.category);
            assert!(KINDS.contains(&template.kind));
        }
        for level2 in d.categories.iter().filter(|c| c.level() == 2) {
            let n = TEMPLATES.iter().filter(|t| code_is_below(t.category, &level2.code)).count();
            assert!(n >= 3, "{} {} has {n} templates", level2.code, level2.name);
        }
        for leaf in d.leaf_categories() {
            assert!(TEMPLATES.iter().any(|t| t.category == leaf.code), "{} has no template", leaf.code);
        }
    }

    fn code_is_below(code: &str, ancestor: &str) -> bool {
        super::super::district::code_is_within(code, ancestor)
    }

    #[test]
    fn demo_tickets_age_as_a_real_centres_do() {
        let mut rng = StdRng::seed_from_u64(5);
        let plans: Vec<Vec<(f64, DemoStep)>> =
            (0..3000).map(|i| life_plan(KINDS[i % KINDS.len()], i % 7 != 0, &mut rng)).collect();
        for plan in &plans {
            assert!(plan.windows(2).all(|w| w[0].0 <= w[1].0), "in time order: {plan:?}");
            // A return is reviewed within the working day, never left for weeks.
            for (i, (at, step)) in plan.iter().enumerate() {
                if *step == DemoStep::Return {
                    let (reviewed, next) = plan[i + 1];
                    assert!(matches!(next, DemoStep::ReviewReturn { .. }) && reviewed - at <= 6.0, "{plan:?}");
                }
                if *step == DemoStep::RequestExtension {
                    assert!(plan[i + 1].0 - at <= 8.0, "{plan:?}");
                }
            }
        }
        let replied_within = |hours: f64| {
            let replied: Vec<f64> =
                plans.iter().filter_map(|p| p.iter().find(|(_, s)| *s == DemoStep::Reply).map(|(at, _)| *at)).collect();
            replied.iter().filter(|at| **at <= hours).count() as f64 / replied.len() as f64
        };
        let on_time = replied_within(24.0 * 7.0);
        assert!((0.85..0.97).contains(&on_time), "most replies within a week, some late: {on_time}");
        let resolved = plans.iter().filter(|p| p[0].1 == DemoStep::ResolveDirectly).count();
        assert!(resolved > 100 && resolved < 500, "enquiries answered on the spot: {resolved}");
    }

    #[test]
    fn phone_validation() {
        for ok in ["13812345678", "19912345678", "010-83912345", "0571-8765432", "0755-26543210"] {
            assert!(is_valid_phone(ok), "{ok}");
        }
        for bad in ["12812345678", "1381234567", "138123456789", "010-0391234", "10-83912345", "010-839123", "", "abc"]
        {
            assert!(!is_valid_phone(bad), "{bad}");
        }
    }

    #[test]
    fn an_edited_district_still_generates() {
        let mini = District::parse(
            ("departments.toml", "[[department]]\ncode = \"jd-a\"\nname = \"甲街道办事处\"\nkind = \"street\"\n"),
            ("regions.toml", "[[street]]\ncode = \"a\"\nname = \"甲街道\"\noffice = \"jd-a\"\nroads = [\"甲路\"]\n"),
            ("categories.toml", "[[category]]\ncode = \"01\"\nname = \"城乡建设\"\n[[category]]\ncode = \"01.01\"\nname = \"市容环卫\"\n[[category]]\ncode = \"01.01.01\"\nname = \"垃圾清运\"\n"),
        )
        .unwrap();
        // No estates and no second road: only the road templates of 垃圾清运 fit.
        let drafts = generate(&mini, 20, 3);
        assert_eq!(drafts.len(), 20);
        assert!(drafts.iter().all(|d| d.category == "01.01.01" && d.address.starts_with("甲路")));

        let empty = District::parse(("d", ""), ("r", ""), ("c", "")).unwrap();
        assert!(generate(&empty, 5, 1).is_empty());
    }
}
