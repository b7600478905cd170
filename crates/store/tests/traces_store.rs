//! Trace requests in the store, on SQLite and on PostgreSQL: drafts and who sees them, every
//! move and its refusals, a forward's linked request, attachments with their bytes, deadline
//! reminders, and the filters of a listing.

mod common;

use std::sync::Arc;

use armstrace_core::trace::{
    AnswerResult, DeadlinePolicy, Deadlines, Late, Priority, TraceAction, TraceAnswer,
    TraceContent, TraceStatus,
};
use armstrace_core::{CountryCode, OrgKind, OrgState};
use armstrace_store::audit::{AuditWho, verify_chain};
use armstrace_store::hits::NotificationFilter;
use armstrace_store::traces::{
    Direction, NewAttachment, NewTrace, Trace, TraceChange, TraceFilter, TraceScope,
};
use armstrace_store::{Store, StoreError};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use common::Backend;
use serde_json::json;

fn country(code: &str) -> CountryCode {
    CountryCode::parse(code).unwrap()
}

/// 2026-03-`day` at `hour`:00 UTC (2 March 2026 is a Monday). Whole seconds, so that both
/// backends give back exactly the time written.
fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
}

fn date(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, day).unwrap()
}

/// A request the recipient can act on: nothing blocking is missing.
fn content() -> TraceContent {
    serde_json::from_value(json!({
        "firearm": { "serial_numbers": ["WK41877"], "make": "Walther", "calibre": "9x19mm" },
        "circumstances": { "place": "Lyon", "case_reference": "LY/2026/7" },
        "legal_basis": "Mutual legal assistance",
        "intended_use": "Investigation"
    }))
    .unwrap()
}

/// One party to the requests: its organisation and who acts for it.
struct Party {
    id: i64,
    who: AuditWho,
    ncb_of: Option<CountryCode>,
}

impl Party {
    fn scope(&self) -> TraceScope {
        TraceScope::Organisation {
            org_id: self.id,
            ncb_of: self.ncb_of,
        }
    }
}

/// The organisations of every test: Lyon's police and its NCB in France, the NCBs of Germany,
/// Italy and Spain, and Paris's police.
struct World {
    store: Arc<dyn Store>,
    lyon: Party,
    paris: Party,
    ncb_fr: Party,
    ncb_de: Party,
    ncb_it: Party,
    ncb_es: Party,
}

async fn party(store: &dyn Store, name: &str, kind: OrgKind, code: &str) -> Party {
    let org = store
        .create_organisation(
            &AuditWho::installation(),
            name,
            kind,
            Some(country(code)),
            OrgState::Approved,
        )
        .await
        .unwrap();
    Party {
        id: org.id,
        who: AuditWho {
            user_id: None,
            username: name.to_lowercase().replace(' ', "-"),
            org_id: Some(org.id),
            organisation: name.into(),
            country: Some(country(code)),
        },
        ncb_of: (kind == OrgKind::Ncb).then(|| country(code)),
    }
}

async fn world(store: Arc<dyn Store>) -> World {
    let s = store.as_ref();
    World {
        lyon: party(s, "Police Lyon", OrgKind::Police, "FR").await,
        paris: party(s, "Police Paris", OrgKind::Police, "FR").await,
        ncb_fr: party(s, "NCB France", OrgKind::Ncb, "FR").await,
        ncb_de: party(s, "NCB Germany", OrgKind::Ncb, "DE").await,
        ncb_it: party(s, "NCB Italy", OrgKind::Ncb, "IT").await,
        ncb_es: party(s, "NCB Spain", OrgKind::Ncb, "ES").await,
        store,
    }
}

impl World {
    async fn draft(&self, by: &Party, to: Option<&str>, now: DateTime<Utc>) -> Trace {
        let new = NewTrace {
            requester_country: by.who.country.unwrap(),
            to_country: to.map(country),
            content: content(),
        };
        self.store.create_trace(&by.who, &new, now).await.unwrap()
    }

    async fn act(
        &self,
        by: &Party,
        trace: &Trace,
        change: TraceChange,
        now: DateTime<Utc>,
    ) -> Result<(Trace, Option<Trace>), StoreError> {
        self.store
            .change_trace(&by.who, trace.id, &change, now)
            .await
    }

    async fn sent(&self, by: &Party, to: &str, now: DateTime<Utc>) -> Trace {
        let draft = self.draft(by, Some(to), now).await;
        self.act(by, &draft, send(deadlines(now)), now)
            .await
            .unwrap()
            .0
    }

    /// The ids `filter` picks, newest first.
    async fn seen(&self, filter: TraceFilter) -> Vec<i64> {
        let traces = self.store.traces(&filter).await.unwrap();
        traces.iter().map(|t| t.id).collect()
    }

    /// What each party sees, in the order of [`World`]'s fields.
    async fn seen_by_each(&self) -> Vec<Vec<i64>> {
        let each = [
            &self.lyon,
            &self.paris,
            &self.ncb_fr,
            &self.ncb_de,
            &self.ncb_it,
            &self.ncb_es,
        ];
        let mut seen = Vec::new();
        for party in each {
            seen.push(self.seen(TraceFilter::new(party.scope(), 10)).await);
        }
        seen
    }

    /// The `event` notifications `org` holds about `trace`.
    async fn told(&self, org: &Party, trace: &Trace, event: &str) -> usize {
        let filter = NotificationFilter {
            trace_id: Some(trace.id),
            event: Some(event.into()),
            ..NotificationFilter::default()
        };
        let told = self
            .store
            .notifications(org.id, &filter, 0, 100)
            .await
            .unwrap();
        told.len()
    }

    async fn events(&self, trace: &Trace) -> Vec<(String, TraceStatus)> {
        let events = self.store.trace_events(trace.id).await.unwrap();
        events.into_iter().map(|e| (e.event, e.status)).collect()
    }
}

fn deadlines(sent: DateTime<Utc>) -> Deadlines {
    DeadlinePolicy::default().deadlines(sent, Priority::Routine)
}

fn send(deadlines: Deadlines) -> TraceChange {
    TraceChange::Move {
        action: TraceAction::Send,
        text: None,
        deadlines: Some(deadlines),
        answer: None,
        forward_to: None,
    }
}

fn action(action: TraceAction, text: Option<&str>) -> TraceChange {
    TraceChange::Move {
        action,
        text: text.map(str::to_string),
        deadlines: None,
        answer: None,
        forward_to: None,
    }
}

fn forward(to: &str, deadlines: Deadlines) -> TraceChange {
    TraceChange::Move {
        action: TraceAction::Forward,
        text: Some("the import marks are Italian".into()),
        deadlines: None,
        answer: None,
        forward_to: Some((country(to), deadlines)),
    }
}

fn answer() -> TraceAnswer {
    TraceAnswer {
        result: AnswerResult::Found,
        last_legal_recipient: Some("Waffen Müller GmbH".into()),
        last_legal_country: Some(country("DE")),
        transfers: Vec::new(),
        licence_references: vec!["DE-EXP-2019-44".into()],
        text: None,
    }
}

fn edit(to: Option<&str>, content: TraceContent, base_version: Option<i64>) -> TraceChange {
    TraceChange::Edit {
        to_country: to.map(country),
        content: Box::new(content),
        base_version,
    }
}

fn code_of<T: std::fmt::Debug>(result: Result<T, StoreError>) -> &'static str {
    match result {
        Err(StoreError::Conflict { code, .. }) => code,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

both!(a_draft_is_written_as_given_and_changed_only_on_its_current_version);

async fn a_draft_is_written_as_given_and_changed_only_on_its_current_version(backend: Backend) {
    let (_db, store) = common::fresh(backend).await;
    let w = world(store).await;
    let now = at(2, 9);
    let draft = w.draft(&w.lyon, Some("DE"), now).await;
    let expected = Trace {
        id: draft.id,
        chain_id: draft.id,
        parent_id: None,
        requester_org_id: w.lyon.id,
        requester_organisation: "Police Lyon".into(),
        requester_country: country("FR"),
        to_country: Some(country("DE")),
        status: TraceStatus::Draft,
        priority: Priority::Routine,
        content: content(),
        answer: None,
        created_by: "police-lyon".into(),
        created_at: now,
        updated_at: now,
        sent_at: None,
        deadlines: None,
        reminded: None,
        reminded_at: None,
        version: 1,
    };
    assert_eq!(draft, expected);
    assert_eq!(
        w.store.trace(draft.id).await.unwrap(),
        Some(expected.clone())
    );
    assert_eq!(w.store.trace(draft.id + 100).await.unwrap(), None);
    assert_eq!(w.store.trace_chain(draft.id).await.unwrap(), [expected]);
    let events = w.store.trace_events(draft.id).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event, "trace.created");
    assert_eq!(events[0].status, TraceStatus::Draft);
    assert_eq!(events[0].at, now);
    assert_eq!(events[0].username, "police-lyon");
    assert_eq!(events[0].organisation, "Police Lyon");
    assert_eq!(
        (events[0].text.clone(), events[0].data.clone()),
        (None, None)
    );

    let nobody = AuditWho::installation();
    let new = NewTrace {
        requester_country: country("FR"),
        to_country: None,
        content: content(),
    };
    assert!(matches!(
        w.store.create_trace(&nobody, &new, now).await,
        Err(StoreError::NotFound(_))
    ));

    // Rewritten as urgent, to Italy, on the version it was read at.
    let mut urgent = content();
    urgent.priority = Some(Priority::Urgent);
    urgent.urgency = Some("a trafficking ring is being arrested".into());
    let later = at(2, 10);
    let (edited, linked) = w
        .act(
            &w.lyon,
            &draft,
            edit(Some("IT"), urgent.clone(), Some(1)),
            later,
        )
        .await
        .unwrap();
    assert_eq!(linked, None);
    assert_eq!(edited.to_country, Some(country("IT")));
    assert_eq!(edited.priority, Priority::Urgent);
    assert_eq!(edited.content, urgent);
    assert_eq!((edited.version, edited.updated_at), (2, later));
    let events = w.store.trace_events(draft.id).await.unwrap();
    assert_eq!(events[1].event, "trace.updated");
    assert_eq!(
        events[1].data,
        Some(json!({ "content": urgent, "to_country": "IT" }))
    );
    let stale = w
        .act(&w.lyon, &draft, edit(Some("DE"), content(), Some(1)), later)
        .await;
    assert_eq!(code_of(stale), "stale_version");

    // A draft has no one to write to, and is not sent without a country or what is needed.
    let message = TraceChange::Message {
        text: "hello".into(),
    };
    assert_eq!(
        code_of(w.act(&w.lyon, &draft, message, later).await),
        "trace_status"
    );
    w.act(&w.lyon, &draft, edit(None, urgent.clone(), None), later)
        .await
        .unwrap();
    let nowhere = w.act(&w.lyon, &draft, send(deadlines(later)), later).await;
    assert_eq!(code_of(nowhere), "trace_incomplete");
    let mut lacking = urgent;
    lacking.legal_basis = None;
    w.act(&w.lyon, &draft, edit(Some("IT"), lacking, None), later)
        .await
        .unwrap();
    let lacking = w.act(&w.lyon, &draft, send(deadlines(later)), later).await;
    assert_eq!(code_of(lacking), "trace_incomplete");
    let still = w.store.trace(draft.id).await.unwrap().unwrap();
    assert_eq!((still.status, still.version), (TraceStatus::Draft, 4));
    assert!(
        w.store
            .change_trace(
                &w.lyon.who,
                draft.id + 100,
                &action(TraceAction::Close, None),
                later
            )
            .await
            .is_err_and(|e| matches!(e, StoreError::NotFound(_)))
    );
}

both!(drafts_are_seen_by_their_writer_and_its_ncb_and_sent_requests_by_their_chain);

async fn drafts_are_seen_by_their_writer_and_its_ncb_and_sent_requests_by_their_chain(
    backend: Backend,
) {
    let (_db, store) = common::fresh(backend).await;
    let w = world(store).await;
    let now = at(2, 9);
    let first = w.draft(&w.lyon, Some("DE"), now).await;
    let none = Vec::new();
    let just = vec![first.id];
    // Lyon, Paris, the NCBs of France, Germany, Italy and Spain.
    assert_eq!(
        w.seen_by_each().await,
        [&just, &none, &just, &none, &none, &none].map(Vec::clone)
    );
    assert_eq!(w.seen(TraceFilter::new(TraceScope::All, 10)).await, just);

    w.act(&w.lyon, &first, send(deadlines(now)), now)
        .await
        .unwrap();
    assert_eq!(
        w.seen_by_each().await,
        [&just, &none, &just, &just, &none, &none].map(Vec::clone)
    );

    // Germany passes it on to Italy, and drafts a request of its own.
    let (_, linked) = w
        .act(&w.ncb_de, &first, forward("IT", deadlines(now)), now)
        .await
        .unwrap();
    let linked = linked.unwrap().id;
    let own = w.draft(&w.ncb_de, Some("ES"), now).await.id;
    let chain = vec![linked, first.id];
    let germany = vec![own, linked, first.id];
    assert_eq!(
        w.seen_by_each().await,
        [&chain, &none, &chain, &germany, &chain, &none].map(Vec::clone)
    );

    let direction = |party: &Party, direction| {
        let mut filter = TraceFilter::new(party.scope(), 10);
        filter.direction = Some(direction);
        filter
    };
    assert_eq!(
        w.seen(direction(&w.ncb_de, Direction::Incoming)).await,
        [first.id]
    );
    assert_eq!(
        w.seen(direction(&w.ncb_de, Direction::Outgoing)).await,
        [own, linked]
    );
    assert_eq!(
        w.seen(direction(&w.ncb_it, Direction::Incoming)).await,
        [linked]
    );
    assert!(
        w.seen(direction(&w.ncb_it, Direction::Outgoing))
            .await
            .is_empty()
    );
    assert_eq!(
        w.seen(direction(&w.lyon, Direction::Outgoing)).await,
        [first.id]
    );
    assert!(
        w.seen(direction(&w.lyon, Direction::Incoming))
            .await
            .is_empty()
    );
}

both!(every_move_follows_from_the_status_it_finds_and_the_others_are_refused);

async fn every_move_follows_from_the_status_it_finds_and_the_others_are_refused(backend: Backend) {
    let (_db, store) = common::fresh(backend).await;
    let w = world(store).await;
    let now = at(2, 9);
    let trace = w.draft(&w.lyon, Some("DE"), now).await;
    for refused in [
        TraceAction::Acknowledge,
        TraceAction::RequestInformation,
        TraceAction::Answer,
        TraceAction::Close,
    ] {
        let result = w.act(&w.ncb_de, &trace, action(refused, None), now).await;
        assert_eq!(code_of(result), "trace_status", "{refused:?} on a draft");
    }

    let due = deadlines(now);
    let (sent, _) = w.act(&w.lyon, &trace, send(due), now).await.unwrap();
    assert_eq!(sent.status, TraceStatus::Sent);
    assert_eq!((sent.sent_at, sent.deadlines), (Some(now), Some(due)));
    assert_eq!(w.told(&w.ncb_de, &trace, "trace.sent").await, 1);
    assert_eq!(w.told(&w.lyon, &trace, "trace.sent").await, 0);
    let again = w.act(&w.lyon, &trace, send(due), now).await;
    assert_eq!(code_of(again), "trace_status");

    let t = at(3, 9);
    let (acknowledged, _) = w
        .act(&w.ncb_de, &trace, action(TraceAction::Acknowledge, None), t)
        .await
        .unwrap();
    assert_eq!(acknowledged.status, TraceStatus::Acknowledged);
    assert_eq!(w.told(&w.lyon, &trace, "trace.acknowledged").await, 1);
    let asked = action(TraceAction::RequestInformation, Some("which slide serial?"));
    let (waiting, _) = w.act(&w.ncb_de, &trace, asked, t).await.unwrap();
    assert_eq!(waiting.status, TraceStatus::InformationRequested);

    // Sent back: its content may change, the country asked may not.
    let mut more = content();
    more.firearm.serial_numbers.push("SLIDE-41877".into());
    let moved = w
        .act(&w.lyon, &trace, edit(Some("IT"), more.clone(), None), t)
        .await;
    assert_eq!(code_of(moved), "trace_status");
    let (edited, _) = w
        .act(&w.lyon, &trace, edit(Some("DE"), more.clone(), None), t)
        .await
        .unwrap();
    assert_eq!(
        (edited.status, edited.content),
        (TraceStatus::InformationRequested, more)
    );
    let resent_at = at(4, 9);
    let due = deadlines(resent_at);
    let (resent, _) = w.act(&w.lyon, &trace, send(due), resent_at).await.unwrap();
    assert_eq!(resent.status, TraceStatus::Sent);
    assert_eq!(
        (resent.sent_at, resent.deadlines),
        (Some(resent_at), Some(due))
    );

    let answered = TraceChange::Move {
        action: TraceAction::Answer,
        text: None,
        deadlines: None,
        answer: Some(answer()),
        forward_to: None,
    };
    let (done, _) = w
        .act(&w.ncb_de, &trace, answered.clone(), resent_at)
        .await
        .unwrap();
    assert_eq!(done.status, TraceStatus::Answered);
    assert_eq!(done.answer, Some(answer()));
    assert_eq!(w.told(&w.lyon, &trace, "trace.answered").await, 1);
    assert_eq!(w.told(&w.ncb_de, &trace, "trace.answered").await, 0);
    assert_eq!(
        code_of(w.act(&w.ncb_de, &trace, answered, resent_at).await),
        "trace_status"
    );
    let late_forward = w
        .act(&w.ncb_de, &trace, forward("IT", due), resent_at)
        .await;
    assert_eq!(code_of(late_forward), "trace_status");
    let thanks = TraceChange::Message {
        text: "thank you".into(),
    };
    let (still, _) = w
        .act(&w.lyon, &trace, thanks.clone(), resent_at)
        .await
        .unwrap();
    assert_eq!(still.status, TraceStatus::Answered);
    assert_eq!(w.told(&w.ncb_de, &trace, "trace.message").await, 1);

    let (closed, _) = w
        .act(&w.lyon, &trace, action(TraceAction::Close, None), resent_at)
        .await
        .unwrap();
    assert_eq!((closed.status, closed.version), (TraceStatus::Closed, 9));
    assert_eq!(
        code_of(w.act(&w.lyon, &trace, thanks, resent_at).await),
        "trace_status"
    );
    assert_eq!(
        code_of(
            w.act(&w.lyon, &trace, action(TraceAction::Close, None), resent_at)
                .await
        ),
        "trace_status"
    );
    let expected = [
        ("trace.created", TraceStatus::Draft),
        ("trace.sent", TraceStatus::Sent),
        ("trace.acknowledged", TraceStatus::Acknowledged),
        (
            "trace.information_requested",
            TraceStatus::InformationRequested,
        ),
        ("trace.updated", TraceStatus::InformationRequested),
        ("trace.sent", TraceStatus::Sent),
        ("trace.answered", TraceStatus::Answered),
        ("trace.message", TraceStatus::Answered),
        ("trace.closed", TraceStatus::Closed),
    ];
    let expected: Vec<(String, TraceStatus)> = expected
        .into_iter()
        .map(|(e, s)| (e.to_string(), s))
        .collect();
    assert_eq!(w.events(&trace).await, expected);
    let events = w.store.trace_events(trace.id).await.unwrap();
    assert_eq!(events[3].text.as_deref(), Some("which slide serial?"));
    assert_eq!(events[5].data, Some(json!({ "deadlines": due })));
    assert_eq!(events[6].data, Some(json!({ "answer": answer() })));
    let report = verify_chain(w.store.audit_chain(), None).await.unwrap();
    assert_eq!(report.broken, None);
    // Six organisations, one creation, eight changes.
    assert_eq!(report.entries, 15);
}

both!(a_forward_starts_a_linked_request_in_the_same_chain_that_closes_with_it);

async fn a_forward_starts_a_linked_request_in_the_same_chain_that_closes_with_it(backend: Backend) {
    let (_db, store) = common::fresh(backend).await;
    let w = world(store).await;
    let now = at(2, 9);
    let first = w.sent(&w.lyon, "DE", now).await;
    let t = at(3, 11);
    let due = deadlines(t);
    let (forwarded, linked) = w
        .act(&w.ncb_de, &first, forward("IT", due), t)
        .await
        .unwrap();
    let linked = linked.unwrap();
    assert_eq!(forwarded.status, TraceStatus::Forwarded);
    let expected = Trace {
        id: linked.id,
        chain_id: first.id,
        parent_id: Some(first.id),
        requester_org_id: w.ncb_de.id,
        requester_organisation: "NCB Germany".into(),
        requester_country: country("DE"),
        to_country: Some(country("IT")),
        status: TraceStatus::Sent,
        priority: Priority::Routine,
        content: content(),
        answer: None,
        created_by: "ncb-germany".into(),
        created_at: t,
        updated_at: t,
        sent_at: Some(t),
        deadlines: Some(due),
        reminded: None,
        reminded_at: None,
        version: 1,
    };
    assert_eq!(linked, expected);
    assert_eq!(
        w.store.trace_chain(first.id).await.unwrap(),
        [forwarded.clone(), expected]
    );
    let events = w.store.trace_events(first.id).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.event, "trace.forwarded");
    assert_eq!(
        last.data,
        Some(json!({ "linked_trace_id": linked.id, "to_country": "IT" }))
    );
    let events = w.store.trace_events(linked.id).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event, "trace.sent");
    assert_eq!(
        events[0].text.as_deref(),
        Some("the import marks are Italian")
    );
    assert_eq!(
        events[0].data,
        Some(json!({ "forwarded_from": first.id, "deadlines": due }))
    );
    assert_eq!(w.told(&w.ncb_it, &linked, "trace.sent").await, 1);
    assert_eq!(w.told(&w.lyon, &first, "trace.forwarded").await, 1);

    // Lyon closes the case: Italy's request is closed with it, and Italy is told.
    let (closed, _) = w
        .act(&w.lyon, &first, action(TraceAction::Close, None), at(4, 9))
        .await
        .unwrap();
    assert_eq!(closed.status, TraceStatus::Closed);
    let linked = w.store.trace(linked.id).await.unwrap().unwrap();
    assert_eq!((linked.status, linked.version), (TraceStatus::Closed, 2));
    let events = w.store.trace_events(linked.id).await.unwrap();
    assert_eq!(events[1].event, "trace.closed");
    assert_eq!(events[1].data, Some(json!({ "closed_with": first.id })));
    assert_eq!(w.told(&w.ncb_it, &linked, "trace.closed").await, 1);
}

both!(attachments_come_back_with_their_bytes);

async fn attachments_come_back_with_their_bytes(backend: Backend) {
    let (_db, store) = common::fresh(backend).await;
    let w = world(store).await;
    let now = at(2, 9);
    let trace = w.sent(&w.lyon, "DE", now).await;
    let photo: Vec<u8> = (0..=255u8).chain([0, 0, 255]).collect();
    let file = NewAttachment {
        name: "slide.png",
        content_type: "image/png",
        sha256: "ab12",
        data: &photo,
    };
    let t = at(2, 10);
    let first = w
        .store
        .attach_to_trace(&w.lyon.who, trace.id, &file, t)
        .await
        .unwrap();
    assert_eq!(
        (
            first.trace_id,
            first.name.as_str(),
            first.content_type.as_str()
        ),
        (trace.id, "slide.png", "image/png")
    );
    assert_eq!((first.size, first.sha256.as_str()), (259, "ab12"));
    assert_eq!(
        (
            first.username.as_str(),
            first.organisation.as_str(),
            first.created_at
        ),
        ("police-lyon", "Police Lyon", t)
    );
    let letter = NewAttachment {
        name: "letter.pdf",
        content_type: "application/pdf",
        sha256: "cd34",
        data: b"%PDF-1.4",
    };
    let second = w
        .store
        .attach_to_trace(&w.ncb_de.who, trace.id, &letter, t)
        .await
        .unwrap();
    assert_eq!(
        w.store.trace_attachments(trace.id).await.unwrap(),
        [first.clone(), second.clone()]
    );
    assert_eq!(
        w.store.trace_attachment(trace.id, first.id).await.unwrap(),
        Some((first.clone(), photo.clone()))
    );
    assert_eq!(
        w.store.trace_attachment(trace.id, second.id).await.unwrap(),
        Some((second, b"%PDF-1.4".to_vec()))
    );
    assert_eq!(
        w.store
            .trace_attachment(trace.id + 1, first.id)
            .await
            .unwrap(),
        None
    );
    let now_stands = w.store.trace(trace.id).await.unwrap().unwrap();
    assert_eq!((now_stands.version, now_stands.updated_at), (4, t));
    let events = w.store.trace_events(trace.id).await.unwrap();
    assert_eq!(events[2].event, "trace.attachment");
    assert_eq!(events[2].text.as_deref(), Some("slide.png"));
    assert_eq!(
        events[2].data,
        Some(json!({
            "attachment_id": first.id, "name": "slide.png", "content_type": "image/png",
            "size": 259, "sha256": "ab12"
        }))
    );
    assert_eq!(w.told(&w.ncb_de, &trace, "trace.attachment").await, 1);
    assert_eq!(w.told(&w.lyon, &trace, "trace.attachment").await, 1);

    assert!(matches!(
        w.store
            .attach_to_trace(&w.lyon.who, trace.id + 100, &file, t)
            .await,
        Err(StoreError::NotFound(_))
    ));
    w.act(&w.lyon, &trace, action(TraceAction::Close, None), t)
        .await
        .unwrap();
    let closed = w
        .store
        .attach_to_trace(&w.lyon.who, trace.id, &file, t)
        .await;
    assert_eq!(code_of(closed), "trace_status");
    assert_eq!(w.store.trace_attachments(trace.id).await.unwrap().len(), 2);
}

both!(a_late_request_is_reminded_once_and_again_after_the_interval);

async fn a_late_request_is_reminded_once_and_again_after_the_interval(backend: Backend) {
    let (_db, store) = common::fresh(backend).await;
    let w = world(store).await;
    let again = Duration::hours(24);
    let now = at(2, 9);
    let trace = w.sent(&w.lyon, "DE", now).await;
    let due = deadlines(now);
    assert_eq!(due.acknowledge_by, at(4, 9));
    assert!(
        w.store
            .due_trace_reminders(due.acknowledge_by, again)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        w.store
            .remind_trace(trace.id, due.acknowledge_by, again)
            .await
            .unwrap(),
        None
    );

    let t = due.acknowledge_by + Duration::hours(1);
    assert_eq!(
        w.store.due_trace_reminders(t, again).await.unwrap(),
        [trace.id]
    );
    assert_eq!(
        w.store.remind_trace(trace.id, t, again).await.unwrap(),
        Some(Late::Acknowledgement)
    );
    assert_eq!(
        w.store.remind_trace(trace.id, t, again).await.unwrap(),
        None
    );
    assert!(
        w.store
            .due_trace_reminders(t, again)
            .await
            .unwrap()
            .is_empty()
    );
    let reminded = w.store.trace(trace.id).await.unwrap().unwrap();
    assert_eq!(
        (reminded.reminded, reminded.reminded_at),
        (Some(Late::Acknowledgement), Some(t))
    );
    for party in [&w.lyon, &w.ncb_fr, &w.ncb_de] {
        assert_eq!(w.told(party, &trace, "trace.overdue").await, 1);
    }
    assert_eq!(w.told(&w.ncb_it, &trace, "trace.overdue").await, 0);
    let events = w.store.trace_events(trace.id).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(
        (last.event.as_str(), last.username.as_str()),
        ("trace.overdue", "armstrace")
    );
    assert_eq!(last.text.as_deref(), Some("not acknowledged in time"));

    // A day on, still not acknowledged: reminded again, once.
    let just_before = t + again - Duration::seconds(1);
    assert!(
        w.store
            .due_trace_reminders(just_before, again)
            .await
            .unwrap()
            .is_empty()
    );
    let t = t + again;
    assert_eq!(
        w.store.due_trace_reminders(t, again).await.unwrap(),
        [trace.id]
    );
    assert_eq!(
        w.store.remind_trace(trace.id, t, again).await.unwrap(),
        Some(Late::Acknowledgement)
    );
    assert_eq!(
        w.store.remind_trace(trace.id, t, again).await.unwrap(),
        None
    );
    assert_eq!(w.told(&w.lyon, &trace, "trace.overdue").await, 2);

    // Acknowledged: nothing is late until the answer is.
    w.act(&w.ncb_de, &trace, action(TraceAction::Acknowledge, None), t)
        .await
        .unwrap();
    assert!(
        w.store
            .due_trace_reminders(t, again)
            .await
            .unwrap()
            .is_empty()
    );
    let t = due.answer_by + Duration::minutes(1);
    assert_eq!(
        w.store.due_trace_reminders(t, again).await.unwrap(),
        [trace.id]
    );
    assert_eq!(
        w.store.remind_trace(trace.id, t, again).await.unwrap(),
        Some(Late::Answer)
    );
    assert!(
        w.store
            .due_trace_reminders(t, again)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        w.store
            .remind_trace(trace.id + 100, t, again)
            .await
            .unwrap(),
        None
    );

    // Reminded of the acknowledgement an hour ago, and now the answer is late too.
    let tight = Deadlines {
        acknowledge_by: at(10, 10),
        answer_by: at(10, 12),
    };
    let draft = w.draft(&w.lyon, Some("IT"), at(10, 9)).await;
    let (pressing, _) = w
        .act(&w.lyon, &draft, send(tight), at(10, 9))
        .await
        .unwrap();
    assert_eq!(
        w.store
            .remind_trace(pressing.id, at(10, 11), again)
            .await
            .unwrap(),
        Some(Late::Acknowledgement)
    );
    let t = at(10, 13);
    assert_eq!(
        w.store.due_trace_reminders(t, again).await.unwrap(),
        [pressing.id]
    );
    assert_eq!(
        w.store.remind_trace(pressing.id, t, again).await.unwrap(),
        Some(Late::Answer)
    );
    assert_eq!(
        w.store.remind_trace(pressing.id, t, again).await.unwrap(),
        None
    );
    w.act(&w.lyon, &pressing, action(TraceAction::Close, None), t)
        .await
        .unwrap();
    let much_later = at(30, 9);
    assert_eq!(
        w.store
            .due_trace_reminders(much_later, again)
            .await
            .unwrap(),
        [trace.id]
    );
}

both!(a_listing_filters_by_status_priority_lateness_country_and_date_newest_first);

async fn a_listing_filters_by_status_priority_lateness_country_and_date_newest_first(
    backend: Backend,
) {
    let (_db, store) = common::fresh(backend).await;
    let w = world(store).await;
    let monday = at(2, 9);
    let to_germany = w.sent(&w.lyon, "DE", monday).await.id;
    let late_tuesday = Utc.with_ymd_and_hms(2026, 3, 3, 23, 59, 59).unwrap();
    let mut urgent = content();
    urgent.priority = Some(Priority::Urgent);
    urgent.urgency = Some("an arrest tomorrow".into());
    let new = NewTrace {
        requester_country: country("FR"),
        to_country: Some(country("IT")),
        content: urgent,
    };
    let draft = w
        .store
        .create_trace(&w.lyon.who, &new, late_tuesday)
        .await
        .unwrap();
    let to_italy = draft.id;
    let due = DeadlinePolicy::default().deadlines(late_tuesday, Priority::Urgent);
    w.act(&w.lyon, &draft, send(due), late_tuesday)
        .await
        .unwrap();
    let wednesday = at(4, 0);
    let to_spain = w.draft(&w.lyon, Some("ES"), wednesday).await.id;

    let all = || TraceFilter::new(TraceScope::All, 10);
    assert_eq!(w.seen(all()).await, [to_spain, to_italy, to_germany]);
    let mut page = all();
    page.limit = 2;
    assert_eq!(w.seen(page.clone()).await, [to_spain, to_italy]);
    page.before = Some(to_italy);
    assert_eq!(w.seen(page).await, [to_germany]);

    let mut sent = all();
    sent.status = Some(TraceStatus::Sent);
    assert_eq!(w.seen(sent).await, [to_italy, to_germany]);
    let mut drafts = TraceFilter::new(w.ncb_fr.scope(), 10);
    drafts.status = Some(TraceStatus::Draft);
    assert_eq!(w.seen(drafts).await, [to_spain]);
    let mut urgent = all();
    urgent.priority = Some(Priority::Urgent);
    assert_eq!(w.seen(urgent).await, [to_italy]);

    // Italy's answer is due a day after late Tuesday; Germany's acknowledgement on Wednesday.
    let overdue = |now| {
        let mut filter = all();
        filter.overdue_at = Some(now);
        filter
    };
    assert!(w.seen(overdue(at(4, 9))).await.is_empty());
    assert_eq!(w.seen(overdue(at(4, 10))).await, [to_germany]);
    assert_eq!(w.seen(overdue(at(5, 9))).await, [to_italy, to_germany]);

    let by_country = |code| {
        let mut filter = all();
        filter.country = Some(country(code));
        filter
    };
    assert_eq!(w.seen(by_country("IT")).await, [to_italy]);
    assert_eq!(w.seen(by_country("ES")).await, [to_spain]);
    assert_eq!(
        w.seen(by_country("FR")).await,
        [to_spain, to_italy, to_germany]
    );
    assert!(w.seen(by_country("PT")).await.is_empty());

    let between = |from: Option<u32>, to: Option<u32>| {
        let mut filter = all();
        filter.from = from.map(date);
        filter.to = to.map(date);
        filter
    };
    assert_eq!(w.seen(between(Some(3), None)).await, [to_spain, to_italy]);
    assert_eq!(w.seen(between(None, Some(3))).await, [to_italy, to_germany]);
    assert_eq!(w.seen(between(Some(3), Some(3))).await, [to_italy]);
    assert_eq!(w.seen(between(Some(4), Some(4))).await, [to_spain]);
    assert!(w.seen(between(Some(5), None)).await.is_empty());
    assert!(w.seen(between(None, Some(1))).await.is_empty());

    // Filters narrow what the scope sees, never widen it.
    let mut germany_late = TraceFilter::new(w.ncb_de.scope(), 10);
    germany_late.overdue_at = Some(at(5, 9));
    assert_eq!(w.seen(germany_late).await, [to_germany]);
}

both!(services_racing_on_one_request_act_on_it_once);

/// Two service processes on one database (a cluster): each reminder and each move is made once,
/// whichever service gets there first.
async fn services_racing_on_one_request_act_on_it_once(backend: Backend) {
    let (db, store) = common::fresh(backend).await;
    let other = armstrace_store::open(&db.url, false).await.unwrap();
    let w = world(store).await;
    let trace = w.sent(&w.lyon, "DE", at(2, 9)).await;
    let again = Duration::hours(24);
    let late = at(4, 10);
    let services = [w.store.clone(), other.clone()];
    let reminders = (0..8).map(|i| {
        let service = services[i % 2].clone();
        async move { service.remind_trace(trace.id, late, again).await.unwrap() }
    });
    let reminded = futures::future::join_all(reminders).await;
    assert_eq!(
        reminded.iter().flatten().collect::<Vec<_>>(),
        [&Late::Acknowledgement]
    );
    assert_eq!(w.told(&w.lyon, &trace, "trace.overdue").await, 1);

    let acknowledgements = (0..8).map(|i| {
        let service = services[i % 2].clone();
        let by = w.ncb_de.who.clone();
        let change = action(TraceAction::Acknowledge, None);
        async move { service.change_trace(&by, trace.id, &change, late).await }
    });
    let results = futures::future::join_all(acknowledgements).await;
    let (done, refused): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    assert_eq!(done.len(), 1);
    for result in refused {
        assert_eq!(code_of(result), "trace_status");
    }
    assert_eq!(w.told(&w.lyon, &trace, "trace.acknowledged").await, 1);

    // Lyon closes the case while Italy passes its linked request on to Spain: whichever comes
    // first, nothing on the chain is left open.
    let first = w.sent(&w.lyon, "DE", late).await;
    let (_, linked) = w
        .act(&w.ncb_de, &first, forward("IT", deadlines(late)), late)
        .await
        .unwrap();
    let linked = linked.unwrap();
    let close = action(TraceAction::Close, None);
    let onward = forward("ES", deadlines(late));
    let (closed, passed) = futures::future::join(
        w.store.change_trace(&w.lyon.who, first.id, &close, late),
        other.change_trace(&w.ncb_it.who, linked.id, &onward, late),
    )
    .await;
    closed.unwrap();
    let passed_on = passed.is_ok();
    if !passed_on {
        assert_eq!(code_of(passed), "trace_status");
    }
    let chain = w.store.trace_chain(first.id).await.unwrap();
    // The request, Italy's, and Spain's if Italy passed it on before the close.
    assert_eq!(chain.len(), if passed_on { 3 } else { 2 });
    assert!(chain.iter().all(|t| t.status == TraceStatus::Closed));

    let report = verify_chain(other.audit_chain(), None).await.unwrap();
    assert_eq!(report.broken, None);
}
