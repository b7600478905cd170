//! Trace requests: asking another country where a seized firearm came from. The life of a
//! request (who may move it where), its deadlines in working days, and what a request lacks
//! that its recipient will need. No I/O: the store keeps requests, the server enforces these
//! rules.

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::CountryCode;

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TraceStatus {
    /// Being written by the requester; the recipient does not see it.
    Draft,
    /// Sent; waiting for the recipient to acknowledge it.
    Sent,
    /// The recipient has it and is working on it.
    Acknowledged,
    /// The recipient asked the requester for more; the requester sends it again.
    InformationRequested,
    /// The recipient answered (found, not found or partial).
    Answered,
    /// The recipient passed it on to the next country on the trail (a linked request).
    Forwarded,
    /// Closed by the requester.
    Closed,
}

/// How soon an answer is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Answer within the routine time (10 working days by default).
    Routine,
    /// Answer within the urgent time (24 hours by default), with a written justification.
    Urgent,
}

/// Who acts on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The organisation that asks (and its NCB).
    Requester,
    /// The NCB of the country asked.
    Recipient,
}

/// A move in a request's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TraceAction {
    Send,
    Acknowledge,
    RequestInformation,
    Answer,
    Forward,
    Close,
}

impl TraceAction {
    /// Which side takes this action.
    pub fn side(self) -> Side {
        match self {
            TraceAction::Send | TraceAction::Close => Side::Requester,
            _ => Side::Recipient,
        }
    }

    /// The status a request in `from` moves to, or why it cannot.
    pub fn next(self, from: TraceStatus) -> Result<TraceStatus, String> {
        use TraceStatus::*;
        let to = match (self, from) {
            (TraceAction::Send, Draft | InformationRequested) => Sent,
            (TraceAction::Acknowledge, Sent) => Acknowledged,
            (TraceAction::RequestInformation, Sent | Acknowledged) => InformationRequested,
            (TraceAction::Answer, Sent | Acknowledged) => Answered,
            (TraceAction::Forward, Sent | Acknowledged) => Forwarded,
            (
                TraceAction::Close,
                Sent | Acknowledged | InformationRequested | Answered | Forwarded,
            ) => Closed,
            (action, from) => {
                return Err(format!(
                    "a request that is {} cannot be {}",
                    status_words(from),
                    action_words(action)
                ));
            }
        };
        Ok(to)
    }
}

fn status_words(status: TraceStatus) -> &'static str {
    match status {
        TraceStatus::Draft => "a draft",
        TraceStatus::Sent => "sent",
        TraceStatus::Acknowledged => "acknowledged",
        TraceStatus::InformationRequested => "waiting for more information",
        TraceStatus::Answered => "answered",
        TraceStatus::Forwarded => "forwarded",
        TraceStatus::Closed => "closed",
    }
}

fn action_words(action: TraceAction) -> &'static str {
    match action {
        TraceAction::Send => "sent",
        TraceAction::Acknowledge => "acknowledged",
        TraceAction::RequestInformation => "sent back for more information",
        TraceAction::Answer => "answered",
        TraceAction::Forward => "forwarded",
        TraceAction::Close => "closed",
    }
}

/// How long a recipient has, per deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlinePolicy {
    /// Working days to acknowledge.
    pub acknowledge_days: u32,
    /// Working days to answer a routine request.
    pub answer_days: u32,
    /// Hours to answer an urgent request.
    pub urgent_hours: u32,
}

impl Default for DeadlinePolicy {
    fn default() -> Self {
        DeadlinePolicy {
            acknowledge_days: 2,
            answer_days: 10,
            urgent_hours: 24,
        }
    }
}

/// When a request sent at one moment is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Deadlines {
    /// Acknowledgement due.
    pub acknowledge_by: DateTime<Utc>,
    /// Answer due.
    pub answer_by: DateTime<Utc>,
}

/// `at` moved on by `days` working days (Monday to Friday), keeping the time of day; a
/// request sent at the weekend counts from the start of Monday.
pub fn add_working_days(at: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    let weekend = |t: DateTime<Utc>| matches!(t.weekday(), Weekday::Sat | Weekday::Sun);
    let mut t = at;
    if weekend(t) {
        while weekend(t) {
            t += Duration::days(1);
        }
        t = t
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc();
    }
    let mut left = days;
    while left > 0 {
        t += Duration::days(1);
        if !weekend(t) {
            left -= 1;
        }
    }
    // Sent on a Saturday with zero days to go still falls due on Monday.
    while weekend(t) {
        t += Duration::days(1);
    }
    t
}

impl DeadlinePolicy {
    /// The deadlines of a request of `priority` sent at `sent`.
    pub fn deadlines(&self, sent: DateTime<Utc>, priority: Priority) -> Deadlines {
        let answer_by = match priority {
            Priority::Routine => add_working_days(sent, self.answer_days),
            Priority::Urgent => sent + Duration::hours(i64::from(self.urgent_hours)),
        };
        let acknowledge_by = add_working_days(sent, self.acknowledge_days).min(answer_by);
        Deadlines {
            acknowledge_by,
            answer_by,
        }
    }
}

/// What is late about a request at `now`, if anything.
pub fn overdue(status: TraceStatus, deadlines: &Deadlines, now: DateTime<Utc>) -> Option<Late> {
    match status {
        TraceStatus::Sent if now > deadlines.answer_by => Some(Late::Answer),
        TraceStatus::Sent if now > deadlines.acknowledge_by => Some(Late::Acknowledgement),
        // Waiting for the requester's information is not the recipient's delay.
        TraceStatus::Acknowledged if now > deadlines.answer_by => Some(Late::Answer),
        _ => None,
    }
}

/// What is late.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Late {
    /// Not acknowledged in time.
    Acknowledgement,
    /// Not answered in time.
    Answer,
}

/// The firearm as the requester identified it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TracedFirearm {
    /// Every serial number read on the firearm (frame, slide, barrel …).
    #[serde(default)]
    pub serial_numbers: Vec<String>,
    /// Whether the serial was filed off, fully or in part.
    #[serde(default)]
    pub serial_obliterated: bool,
    /// What could be restored of a filed-off serial.
    pub restored_serial: Option<String>,
    /// The make.
    pub make: Option<String>,
    /// The model.
    pub model: Option<String>,
    /// The calibre.
    pub calibre: Option<String>,
    /// The kind of firearm (as the records name it).
    pub firearm_type: Option<String>,
    /// Where it was made.
    #[schema(value_type = Option<String>)]
    pub country_of_manufacture: Option<CountryCode>,
    /// Import marks stamped on it.
    pub import_marks: Option<String>,
    /// Other markings (proof marks, unit marks …).
    pub other_markings: Option<String>,
    /// The matching record, if a check found one.
    pub record_id: Option<i64>,
}

/// Where and how it was found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Circumstances {
    /// When it was seized or found (YYYY-MM-DD).
    pub seized_on: Option<chrono::NaiveDate>,
    /// Where.
    pub place: Option<String>,
    /// The case reference.
    pub case_reference: Option<String>,
    /// The crime it is linked to.
    pub crime_type: Option<String>,
    /// How it was found (e.g. during an operation).
    pub how_found: Option<String>,
}

/// What a request says, as the requester writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TraceContent {
    /// The firearm.
    #[serde(default)]
    pub firearm: TracedFirearm,
    /// The circumstances.
    #[serde(default)]
    pub circumstances: Circumstances,
    /// The legal basis of the request.
    pub legal_basis: Option<String>,
    /// What the answer will be used for.
    pub intended_use: Option<String>,
    /// Routine or urgent.
    pub priority: Option<Priority>,
    /// Why it is urgent.
    pub urgency: Option<String>,
}

/// What the recipient found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnswerResult {
    /// The firearm was traced to its last legal recipient.
    Found,
    /// The recipient's records hold nothing on it.
    NotFound,
    /// Part of the trail was found.
    Partial,
}

impl AnswerResult {
    /// The stored and exported token.
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerResult::Found => "found",
            AnswerResult::NotFound => "not_found",
            AnswerResult::Partial => "partial",
        }
    }
}

/// One step of the firearm's legal trail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// When (YYYY-MM-DD).
    pub date: Option<chrono::NaiveDate>,
    /// From whom (a maker, dealer or owner, as the records name them).
    pub from: Option<String>,
    /// To whom.
    pub to: Option<String>,
    /// The exporting country.
    #[schema(value_type = Option<String>)]
    pub exporting_country: Option<CountryCode>,
    /// The importing country.
    #[schema(value_type = Option<String>)]
    pub importing_country: Option<CountryCode>,
    /// The licence or permit it moved under.
    pub licence_reference: Option<String>,
}

/// The recipient's answer, in fields the statistics can count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TraceAnswer {
    /// Found, not found or partial.
    pub result: AnswerResult,
    /// The last legal recipient (a dealer, an owner, an authority).
    pub last_legal_recipient: Option<String>,
    /// The country of the last legal recipient.
    #[schema(value_type = Option<String>)]
    pub last_legal_country: Option<CountryCode>,
    /// The trail, oldest first.
    #[serde(default)]
    pub transfers: Vec<Transfer>,
    /// Licence and permit references not tied to one transfer.
    #[serde(default)]
    pub licence_references: Vec<String>,
    /// Anything else, in words.
    pub text: Option<String>,
}

impl TraceAnswer {
    /// What is wrong with the answer, if anything: a found or partial answer names a last
    /// legal recipient or a transfer; a not-found one may be bare.
    pub fn problem(&self) -> Option<&'static str> {
        let named = !blank(&self.last_legal_recipient) || !self.transfers.is_empty();
        match self.result {
            AnswerResult::NotFound => None,
            _ if named => None,
            _ => Some("a found or partial answer names the last legal recipient or a transfer"),
        }
    }
}

impl TraceStatus {
    /// The stored token.
    pub fn as_str(self) -> &'static str {
        match self {
            TraceStatus::Draft => "draft",
            TraceStatus::Sent => "sent",
            TraceStatus::Acknowledged => "acknowledged",
            TraceStatus::InformationRequested => "information_requested",
            TraceStatus::Answered => "answered",
            TraceStatus::Forwarded => "forwarded",
            TraceStatus::Closed => "closed",
        }
    }

    /// Every status, in life order.
    pub const ALL: [TraceStatus; 7] = [
        TraceStatus::Draft,
        TraceStatus::Sent,
        TraceStatus::Acknowledged,
        TraceStatus::InformationRequested,
        TraceStatus::Answered,
        TraceStatus::Forwarded,
        TraceStatus::Closed,
    ];

    /// Reads a stored token.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether the requester may still change what the request says.
    pub fn editable(self) -> bool {
        matches!(self, TraceStatus::Draft | TraceStatus::InformationRequested)
    }
}

impl Priority {
    /// The stored token.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Routine => "routine",
            Priority::Urgent => "urgent",
        }
    }

    /// Reads a stored token.
    pub fn parse(text: &str) -> Option<Self> {
        [Priority::Routine, Priority::Urgent]
            .into_iter()
            .find(|p| p.as_str() == text)
    }
}

impl TraceAction {
    /// The event a move is recorded and notified as.
    pub fn event(self) -> &'static str {
        match self {
            TraceAction::Send => "trace.sent",
            TraceAction::Acknowledge => "trace.acknowledged",
            TraceAction::RequestInformation => "trace.information_requested",
            TraceAction::Answer => "trace.answered",
            TraceAction::Forward => "trace.forwarded",
            TraceAction::Close => "trace.closed",
        }
    }

    /// The action named in a path (`request-information`).
    pub fn parse(text: &str) -> Option<Self> {
        [
            TraceAction::Send,
            TraceAction::Acknowledge,
            TraceAction::RequestInformation,
            TraceAction::Answer,
            TraceAction::Forward,
            TraceAction::Close,
        ]
        .into_iter()
        .find(|a| a.as_path() == text)
    }

    /// The action's path segment.
    pub fn as_path(self) -> &'static str {
        match self {
            TraceAction::Send => "send",
            TraceAction::Acknowledge => "acknowledge",
            TraceAction::RequestInformation => "request-information",
            TraceAction::Answer => "answer",
            TraceAction::Forward => "forward",
            TraceAction::Close => "close",
        }
    }
}

impl Late {
    /// The stored token.
    pub fn as_str(self) -> &'static str {
        match self {
            Late::Acknowledgement => "acknowledgement",
            Late::Answer => "answer",
        }
    }
}

/// Something a request lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Missing {
    /// The field, as named in the API (`firearm.make`).
    pub field: String,
    /// Whether the request cannot be sent without it (otherwise the recipient is likely to
    /// ask for it).
    pub blocking: bool,
    /// Why the recipient needs it, in words.
    pub reason: String,
}

fn blank(text: &Option<String>) -> bool {
    text.as_ref().is_none_or(|t| t.trim().is_empty())
}

impl TraceContent {
    /// What the request lacks that its recipient will need, most important first, for a
    /// requester of country `requester`. A request is sent only when nothing blocking is
    /// missing.
    pub fn missing(&self, requester: Option<CountryCode>) -> Vec<Missing> {
        let mut missing = Vec::new();
        let mut need = |field: &str, blocking: bool, reason: &str| {
            missing.push(Missing {
                field: field.into(),
                blocking,
                reason: reason.into(),
            });
        };
        let f = &self.firearm;
        let serials = f.serial_numbers.iter().any(|s| !s.trim().is_empty());
        if !serials && !f.serial_obliterated {
            need(
                "firearm.serial_numbers",
                true,
                "a serial number, or say that it was filed off",
            );
        }
        if f.serial_obliterated && !serials && blank(&f.restored_serial) {
            need(
                "firearm.restored_serial",
                false,
                "what could be restored of the filed-off serial, even in part, narrows the search",
            );
        }
        if blank(&f.make) {
            need(
                "firearm.make",
                true,
                "the recipient searches its records by make and serial",
            );
        }
        if blank(&f.calibre) {
            need(
                "firearm.calibre",
                false,
                "the calibre tells apart models sold under one name",
            );
        }
        if blank(&f.firearm_type) {
            need("firearm.firearm_type", false, "the kind of firearm");
        }
        if f.country_of_manufacture.is_none() {
            need(
                "firearm.country_of_manufacture",
                false,
                "where it was made decides where the trace starts",
            );
        }
        let made_abroad = f
            .country_of_manufacture
            .is_some_and(|made| Some(made) != requester);
        if made_abroad && blank(&f.import_marks) {
            need(
                "firearm.import_marks",
                false,
                "a firearm made abroad carries the marks of its legal import, which show where it went after the maker",
            );
        }
        if self.circumstances.seized_on.is_none() {
            need(
                "circumstances.seized_on",
                false,
                "when it was seized or found",
            );
        }
        if blank(&self.circumstances.place) {
            need("circumstances.place", false, "where it was seized or found");
        }
        if blank(&self.legal_basis) {
            need(
                "legal_basis",
                true,
                "the recipient answers only a request with a legal basis",
            );
        }
        if blank(&self.intended_use) {
            need(
                "intended_use",
                true,
                "the recipient needs to know what its answer will be used for",
            );
        }
        if self.priority == Some(Priority::Urgent) && blank(&self.urgency) {
            need("urgency", true, "an urgent request says why it is urgent");
        }
        missing.sort_by_key(|m| !m.blocking);
        missing
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    #[test]
    fn working_days_skip_the_weekend() {
        // Thursday 2026-11-19 10:00 + 2 working days = Monday 2026-11-23 10:00.
        assert_eq!(
            add_working_days(at(2026, 11, 19, 10), 2),
            at(2026, 11, 23, 10)
        );
        // Friday + 10 working days = the Friday two weeks on.
        assert_eq!(
            add_working_days(at(2026, 11, 20, 9), 10),
            at(2026, 12, 4, 9)
        );
        // Sent on Saturday: the day counts from the start of Monday.
        assert_eq!(
            add_working_days(at(2026, 11, 21, 9), 1),
            at(2026, 11, 24, 0)
        );
    }

    #[test]
    fn an_urgent_request_is_due_in_hours_and_goes_overdue() {
        let policy = DeadlinePolicy::default();
        let sent = at(2026, 11, 20, 9);
        let urgent = policy.deadlines(sent, Priority::Urgent);
        assert_eq!(urgent.answer_by, at(2026, 11, 21, 9));
        assert!(urgent.acknowledge_by <= urgent.answer_by);
        assert_eq!(
            overdue(TraceStatus::Acknowledged, &urgent, at(2026, 11, 21, 8)),
            None
        );
        assert_eq!(
            overdue(TraceStatus::Acknowledged, &urgent, at(2026, 11, 21, 10)),
            Some(Late::Answer)
        );
        let routine = policy.deadlines(sent, Priority::Routine);
        assert_eq!(
            overdue(TraceStatus::Sent, &routine, at(2026, 11, 25, 10)),
            Some(Late::Acknowledgement)
        );
        assert_eq!(
            overdue(TraceStatus::Answered, &routine, at(2027, 1, 1, 0)),
            None
        );
        assert_eq!(
            overdue(
                TraceStatus::InformationRequested,
                &routine,
                at(2027, 1, 1, 0)
            ),
            None
        );
    }

    #[test]
    fn a_request_moves_only_along_its_life() {
        use TraceAction::*;
        use TraceStatus::*;
        assert_eq!(Send.next(Draft), Ok(Sent));
        assert_eq!(Acknowledge.next(Sent), Ok(Acknowledged));
        assert_eq!(
            RequestInformation.next(Acknowledged),
            Ok(InformationRequested)
        );
        assert_eq!(Send.next(InformationRequested), Ok(Sent));
        assert_eq!(Forward.next(Acknowledged), Ok(Forwarded));
        assert_eq!(Answer.next(Sent), Ok(Answered));
        assert_eq!(Close.next(Answered), Ok(Closed));
        assert!(Answer.next(Draft).is_err());
        assert!(Close.next(Draft).is_err());
        assert!(Acknowledge.next(Closed).unwrap_err().contains("closed"));
        assert_eq!(Acknowledge.side(), Side::Recipient);
        assert_eq!(Close.side(), Side::Requester);
    }

    #[test]
    fn the_completeness_check_says_what_the_recipient_will_need() {
        let fr = CountryCode::parse("FR").unwrap();
        let at_ = CountryCode::parse("AT").unwrap();
        let empty = TraceContent::default().missing(Some(fr));
        let blocking: Vec<&str> = empty
            .iter()
            .filter(|m| m.blocking)
            .map(|m| m.field.as_str())
            .collect();
        assert_eq!(
            blocking,
            [
                "firearm.serial_numbers",
                "firearm.make",
                "legal_basis",
                "intended_use"
            ]
        );
        let mut content = TraceContent {
            legal_basis: Some("Art. 17 of the convention".into()),
            intended_use: Some("criminal proceedings".into()),
            ..TraceContent::default()
        };
        content.firearm.serial_numbers = vec!["GX4471K".into()];
        content.firearm.make = Some("Glock".into());
        content.firearm.country_of_manufacture = Some(at_);
        let missing = content.missing(Some(fr));
        assert!(missing.iter().all(|m| !m.blocking));
        assert!(
            missing.iter().any(|m| m.field == "firearm.import_marks"),
            "a weapon made abroad without import marks is flagged"
        );
        content.priority = Some(Priority::Urgent);
        assert!(
            content
                .missing(Some(fr))
                .iter()
                .any(|m| m.field == "urgency" && m.blocking)
        );
    }
}
