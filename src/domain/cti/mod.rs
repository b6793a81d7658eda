//! CTI, the ticket side of the telephone (来电): what the PBX tells us about each call, the
//! operators' seats (坐席), the missed-call list (漏接回拨) and the call statistics the centre
//! is assessed on.
//!
//! * [`calls`]: the vendor-neutral call event (`POST /api/v1/cti/events`), how an event is
//!   checked, and how a call record is folded from whatever events arrived — in any order,
//!   each at most once.
//! * [`seats`]: the states of an operator's seat (签入, 空闲, 振铃, 通话, 话后处理, 小休, 签出)
//!   and how call events and the operator's own actions move them; which seat the PBX rings
//!   next (`seats::next_to_ring`: idle the longest, never one ringing, on a call, wrapping up
//!   or on a break).
//! * [`missed`]: which calls go to the call-back list, de-duplicated per number, and how a
//!   call-back attempt is worked (claim, outcome, attempts).
//! * [`stats`]: offered, answered, abandoned, 15秒接通率, average wait, talk and handling
//!   time, per hour and per operator — every formula is written in that module's doc.
//!
//! Nothing here does IO; the store folds the events it holds with these functions inside the
//! transaction that stores a new one.

pub mod calls;
pub mod missed;
pub mod seats;
pub mod stats;

use super::types::Role;

/// A screen-pop goes to the one operator signed in at the ringing extension, never to a
/// department (which must not learn who calls the centre).
pub fn hears_screen_pop(role: Role, user_id: i64, seat_user: i64) -> bool {
    role != Role::Department && user_id == seat_user
}

/// Seat states (坐席监控) are for the wall: supervisors, admins and dispatchers.
pub fn sees_seats(role: Role) -> bool {
    matches!(role, Role::Supervisor | Role::Admin | Role::Dispatcher)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn departments_never_hear_of_calls() {
        assert!(hears_screen_pop(Role::Operator, 7, 7));
        assert!(!hears_screen_pop(Role::Operator, 8, 7));
        assert!(!hears_screen_pop(Role::Department, 7, 7));
        assert!(!sees_seats(Role::Department));
        assert!(!sees_seats(Role::Operator));
        assert!(sees_seats(Role::Supervisor));
    }
}
