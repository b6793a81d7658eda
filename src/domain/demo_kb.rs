//! The demo district's knowledge base (知识库): answers to the questions its residents ask
//! most (the enquiries of [`super::demo_gen`]), each owned by the unit that keeps it current,
//! with a validity — so 直接办结 and Alt+K have something real to read out in the demo.
//! Fictional district (海川区): addresses, hours and amounts are the demo's own.

use super::district::District;

/// One article: category, owning department, question, answer, and how many days from the
/// demo's start it stays valid (`None`: until changed).
pub struct DemoArticle {
    pub category: &'static str,
    pub department: &'static str,
    pub question: &'static str,
    pub answer: &'static str,
    pub valid_days: Option<i64>,
}

const fn a(
    category: &'static str,
    department: &'static str,
    question: &'static str,
    answer: &'static str,
    valid_days: Option<i64>,
) -> DemoArticle {
    DemoArticle { category, department, question, answer, valid_days }
}

pub const ARTICLES: &[DemoArticle] = &[
    a("01.01.01", "cgw-hwzx", "垃圾分类投放时间和地点",
      "本区居住小区实行定时定点投放：每天7:00-9:00、18:00-20:00在小区桶站投放厨余垃圾和其他垃圾；可回收物和有害垃圾可随时投放到小区的可回收物交投点和有害垃圾收集箱。大件垃圾请与物业预约，由环卫中心每周二、周五上门清运。", None),
    a("01.02.03", "cgw-szs", "路灯不亮找哪个单位",
      "城市道路上的路灯由区市政所负责维修，一般在2个工作日内修复；请告知最近的门牌号或路口。小区内部的路灯属于小区公共设施，由物业服务企业负责维修，物业不处理的可向所在街道反映。", None),
    a("02.01.02", "fgj-wyzx", "物业费、停车费由谁定价，涨价要经过什么程序",
      "普通住宅前期物业服务收费实行政府指导价，由区发改委会同房管局公布基准价和浮动幅度；业主大会成立后由业主和物业企业协商确定。物业企业调整收费标准，应当经业主大会或专有部分面积和人数均过半数的业主同意，并在小区显著位置公示。小区地面停车费由业主大会或物业按约定确定，不得擅自上涨。", Some(365)),
    a("02.01.04", "fgj-wyzx", "如何成立业主委员会",
      "由业主向小区所在街道办事处提出书面申请（需专有部分面积和人数均占20%以上的业主联名），街道在60日内会同社区、房管部门组建首次业主大会筹备组。筹备组确定业主委员会候选人、议事规则和管理规约草案后召开业主大会选举。详细材料清单可到街道社区服务中心领取。", None),
    a("02.03.02", "fgj-grb", "供暖费收费标准和缴费方式",
      "本采暖季居民供暖费为每平方米（建筑面积）24元，采暖期为11月15日至次年3月15日。可在供热公司营业厅、\"海川供热\"微信公众号或银行代收网点缴纳。低保、特困家庭可向街道申请供暖补贴。室温低于18℃的可拨打供热公司热线报修，经检测不达标的可按规定退费。", Some(120)),
    a("02.04.02", "fgj", "公租房申请条件和流程",
      "申请家庭须具有本区户籍或持有效居住证连续缴纳社保满1年，家庭人均月收入低于上年度本区人均可支配收入的60%，且在本区无自有住房。向户籍或居住地街道提交申请表、身份证明、收入证明和住房情况说明，经街道初审、区房管局复审并公示后轮候配租。审核时间一般为3个月。", Some(365)),
    a("03.03.02", "ranqi", "燃气卡充值后不能用气怎么办",
      "请先确认燃气卡已插到表上并等待表显示充值金额；如表显示余额但仍无法用气，可能是表电池电量不足，请更换电池后重试。仍不能使用的请拨打燃气公司24小时服务电话报修，维修人员一般在4小时内上门。闻到燃气味请立即关闭阀门、开窗通风，不要开关电器，并到室外拨打报修电话。", None),
    a("07.02.01", "rsj-sbzx", "单位未缴社保如何补缴",
      "用人单位应当自用工之日起30日内为职工办理社会保险登记并缴费。单位未缴纳的，职工可以向区劳动监察大队投诉，或持劳动合同、工资流水等证明到区社保中心申请补缴；补缴时单位需同时缴纳滞纳金。灵活就业人员可自行在社保中心窗口或\"海川人社\"网上办理个人参保缴费。", None),
    a("07.02.02", "rsj-sbzx", "办理退休需要哪些材料",
      "达到法定退休年龄的，由所在单位在到龄前一个月向区社保中心申报；灵活就业人员本人申报。需要：身份证、社会保障卡、本人档案（单位职工）、近期一寸照片。审核通过后，养老金从到龄的次月起发放，每月15日前到账。", None),
    a("07.02.03", "rsj-sbzx", "社保卡丢失如何补办",
      "请先拨打社保卡服务热线或通过\"海川人社\"公众号办理挂失。补卡可以到任意一家社保卡合作银行网点或街道便民服务站办理，携带本人身份证；即时制卡网点当场取卡，其他网点约15个工作日。补卡工本费20元。", None),
    a("08.02.01", "wjw-jkzx", "儿童疫苗在哪里接种，需要预约吗",
      "儿童国家免疫规划疫苗在户籍或居住地所属的社区卫生服务中心预防接种门诊免费接种，请携带预防接种证。各接种门诊实行预约接种，可通过\"健康海川\"公众号预约，周一至周五上午8:00-11:30、下午14:00-16:30接种。", None),
    a("08.03.02", "ybj", "异地就医备案怎么办",
      "参保人员可通过国家医保服务平台APP、\"海川医保\"公众号或区医保局窗口办理异地就医备案，长期居住、异地工作人员提供居住证明或工作证明（也可承诺制办理）。备案后在就医地的联网定点医院住院和门诊费用可直接结算。", None),
    a("09.02.01", "jw", "小学入学如何确定对口学校、要准备什么材料",
      "本区义务教育实行划片就近入学，各学校的招生范围每年4月在区教委网站公布。报名需户口簿、房屋产权证明（或租赁登记备案）、儿童预防接种证查验证明。随迁子女还需父母一方的居住证和本区社保缴纳证明。网上报名时间为每年5月，具体以当年公告为准。", Some(200)),
    a("10.01.03", "mzj", "高龄津贴申请条件和流程",
      "本区户籍年满80周岁的老年人可申请高龄津贴：80-89周岁每人每月100元，90-99周岁每月300元，100周岁以上每月600元。由本人或家属持身份证、户口簿和银行卡到户籍所在社区居委会申请，审核通过后次月起按月发放到本人银行卡。", None),
    a("11.01.03", "gafj", "身份证丢失如何补办",
      "身份证丢失后可到任意一个派出所户籍窗口或区政务服务中心公安窗口补领，跨省异地也可办理。需本人到场采集照片和指纹，收费20元，约15个工作日可领取；急用可同时申请临时身份证（10元，当场或次日领取）。", None),
    a("13.01.01", "zwfw", "区政务服务中心办事时间和地址",
      "区政务服务中心位于海川区府前路8号，工作日9:00-17:00办理业务（中午不休息），周六上午9:00-12:00开放部分窗口。可通过\"海川政务服务\"网提前查看办事指南、预约取号；材料不全的窗口会一次性告知需补齐的材料。", None),
];

/// Articles whose category or department the district lacks (an edited taxonomy) are skipped.
pub fn usable(district: &District) -> impl Iterator<Item = &'static DemoArticle> + '_ {
    ARTICLES.iter().filter(|a| district.is_leaf_category(a.category) && district.department(a.department).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_demo_article_fits_the_shipped_district() {
        let d = District::demo();
        assert_eq!(usable(&d).count(), ARTICLES.len());
        // The enquiries the demo generates most have an answer to read out.
        for category in ["01.01.01", "07.02.03", "11.01.03", "13.01.01"] {
            assert!(ARTICLES.iter().any(|a| a.category == category), "{category}");
        }
    }
}
