//! The vocabulary of a ticket: its kinds, channels, statuses and outcomes, with their
//! Chinese labels. Every enum serialises as the snake_case English word used in the API.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Declares a closed vocabulary: serde names, `as_str`, `FromStr`, a Chinese label, and the
/// list of accepted words (used in error messages so a caller sees what is allowed).
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $word:literal, $label:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub const WORDS: &'static [&'static str] = &[$($word),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }

            /// The Simplified Chinese label shown to users.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($word => Ok($name::$variant),)+
                    other => Err(format!("unknown value \"{}\"; expected one of: {}", other, Self::WORDS.join(", "))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// 诉求类型.
    Kind {
        Consult => "consult", "咨询";
        Help => "help", "求助";
        Complaint => "complaint", "投诉";
        Report => "report", "举报";
        Suggestion => "suggestion", "建议";
        Praise => "praise", "表扬";
    }
}

vocabulary! {
    /// 渠道: where the request came in.
    Channel {
        Phone => "phone", "电话";
        Web => "web", "网上";
        Letter => "letter", "信件";
        Wechat => "wechat", "微信";
        App => "app", "移动应用";
    }
}

vocabulary! {
    /// 紧急程度.
    Urgency {
        Normal => "normal", "一般";
        Urgent => "urgent", "紧急";
    }
}

vocabulary! {
    /// Where a ticket is in its life. Suspension is a status because the clock stops and the
    /// department may do nothing but resume; pending extension requests are not, because work
    /// goes on while a supervisor decides.
    Status {
        Received => "received", "待派单";
        Dispatched => "dispatched", "待签收";
        Accepted => "accepted", "办理中";
        ReturnRequested => "return_requested", "退单待审";
        Suspended => "suspended", "已挂起";
        Replied => "replied", "已办结待回访";
        Closed => "closed", "已归档";
        Merged => "merged", "已合并";
    }
}

vocabulary! {
    /// The department's account of what it did (办结).
    Outcome {
        Solved => "solved", "已解决";
        Explained => "explained", "已解释说明";
        Unsolvable => "unsolvable", "无法解决";
    }
}

vocabulary! {
    /// The resident's answer to "was it solved?" at the callback.
    Solved {
        Yes => "yes", "已解决";
        Partly => "partly", "部分解决";
        No => "no", "未解决";
    }
}

vocabulary! {
    /// 满意度.
    Satisfaction {
        Satisfied => "satisfied", "满意";
        BasicallySatisfied => "basically_satisfied", "基本满意";
        Dissatisfied => "dissatisfied", "不满意";
    }
}

vocabulary! {
    /// Why a callback did not reach the resident.
    CallbackFailure {
        NoAnswer => "no_answer", "无人接听";
        Busy => "busy", "占线";
        WrongNumber => "wrong_number", "号码错误";
    }
}

vocabulary! {
    /// What a user may do is decided by role first, then (for departments) by unit.
    Role {
        Operator => "operator", "话务员";
        Dispatcher => "dispatcher", "派单员";
        Department => "department", "承办单位";
        Supervisor => "supervisor", "督办";
        Admin => "admin", "管理员";
    }
}

impl Status {
    /// Open tickets still need someone's work; closed and merged ones do not.
    pub fn is_open(self) -> bool {
        !matches!(self, Status::Closed | Status::Merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_unknown_words_list_the_allowed_ones() {
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>().unwrap(), *k);
        }
        let err = "complain".parse::<Kind>().unwrap_err();
        assert!(err.contains("complaint") && err.contains("praise"), "{err}");
        assert_eq!(serde_json::to_string(&Status::ReturnRequested).unwrap(), "\"return_requested\"");
    }
}
