//! Trace requests as files for the case file: a list as CSV or PDF, and one request (what it
//! says, its chain, its answer and its timeline) as PDF.

use armstrace_core::Actor;
use armstrace_core::trace::{TraceAnswer, TraceStatus};
use armstrace_store::traces::Trace;
use chrono::{DateTime, Utc};

use crate::pdf::{Block, Report};
use crate::traces::TraceView;

/// The columns of a list.
const COLUMNS: [&str; 16] = [
    "id",
    "chain_id",
    "status",
    "priority",
    "late",
    "requester_organisation",
    "requester_country",
    "to_country",
    "serial_numbers",
    "make",
    "model",
    "calibre",
    "case_reference",
    "created_at",
    "acknowledge_by",
    "answer_by",
];

fn day(at: Option<DateTime<Utc>>) -> String {
    at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

fn status_words(status: TraceStatus) -> &'static str {
    match status {
        TraceStatus::Draft => "draft",
        TraceStatus::Sent => "sent",
        TraceStatus::Acknowledged => "acknowledged",
        TraceStatus::InformationRequested => "information requested",
        TraceStatus::Answered => "answered",
        TraceStatus::Forwarded => "forwarded",
        TraceStatus::Closed => "closed",
    }
}

fn row(trace: &Trace, now: DateTime<Utc>) -> Vec<String> {
    let f = &trace.content.firearm;
    let text = |t: &Option<String>| t.clone().unwrap_or_default();
    vec![
        trace.id.to_string(),
        trace.chain_id.to_string(),
        trace.status.as_str().to_string(),
        trace.priority.as_str().to_string(),
        trace
            .late(now)
            .map(|l| l.as_str())
            .unwrap_or("")
            .to_string(),
        trace.requester_organisation.clone(),
        trace.requester_country.as_str().to_string(),
        trace
            .to_country
            .map(|c| c.as_str().to_string())
            .unwrap_or_default(),
        f.serial_numbers.join(" | "),
        text(&f.make),
        text(&f.model),
        text(&f.calibre),
        text(&trace.content.circumstances.case_reference),
        trace.created_at.to_rfc3339(),
        trace
            .deadlines
            .map(|d| d.acknowledge_by.to_rfc3339())
            .unwrap_or_default(),
        trace
            .deadlines
            .map(|d| d.answer_by.to_rfc3339())
            .unwrap_or_default(),
    ]
}

/// Guards a cell against formula injection when the file is opened in a spreadsheet.
fn cell(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    }
}

/// A list of requests as CSV, one request a row.
pub fn list_csv(traces: &[Trace], now: DateTime<Utc>) -> Vec<u8> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(COLUMNS).expect("writes to memory");
    for trace in traces {
        let cells: Vec<String> = row(trace, now).iter().map(|c| cell(c)).collect();
        out.write_record(&cells).expect("writes to memory");
    }
    out.into_inner().expect("writes to memory")
}

fn produced(actor: &Actor, now: DateTime<Utc>) -> String {
    format!(
        "Produced for {} ({}) on {}. Police information: handle under your national rules.",
        actor.username,
        actor.org_name,
        now.format("%Y-%m-%d %H:%M UTC")
    )
}

/// A list of requests as a printable PDF.
pub fn list_pdf(traces: &[Trace], actor: &Actor, now: DateTime<Utc>) -> Vec<u8> {
    let rows = traces
        .iter()
        .map(|t| {
            let f = &t.content.firearm;
            vec![
                t.id.to_string(),
                status_words(t.status).to_string(),
                t.priority.as_str().to_string(),
                t.late(now)
                    .map(|l| format!("late: {}", l.as_str()))
                    .unwrap_or_default(),
                format!("{} ({})", t.requester_organisation, t.requester_country),
                t.to_country
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_default(),
                f.serial_numbers.join(", "),
                [f.make.as_deref(), f.model.as_deref(), f.calibre.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" "),
                t.content
                    .circumstances
                    .case_reference
                    .clone()
                    .unwrap_or_default(),
                day(Some(t.created_at)),
            ]
        })
        .collect();
    Report {
        title: "Armstrace trace requests".into(),
        subtitle: produced(actor, now),
        landscape: true,
        blocks: vec![
            Block::Paragraph(format!("{} requests, newest first.", traces.len())),
            Block::Table {
                headers: [
                    "Id", "Status", "Priority", "Late", "From", "To", "Serials", "Firearm", "Case",
                    "Written",
                ]
                .map(String::from)
                .to_vec(),
                widths: vec![0.5, 1.2, 0.8, 1.2, 2.2, 0.5, 1.6, 1.8, 1.2, 1.5],
                rows,
            },
        ],
    }
    .to_pdf()
}

fn field(blocks: &mut Vec<Block>, label: &str, value: Option<&str>) {
    if let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) {
        blocks.push(Block::Field(label.into(), value.into()));
    }
}

fn answer_blocks(blocks: &mut Vec<Block>, answer: &TraceAnswer) {
    blocks.push(Block::Heading("Answer".into()));
    field(
        blocks,
        "Result",
        Some(&answer.result.as_str().replace('_', " ")),
    );
    field(
        blocks,
        "Last legal recipient",
        answer.last_legal_recipient.as_deref(),
    );
    field(
        blocks,
        "Its country",
        answer.last_legal_country.map(|c| c.name()),
    );
    field(
        blocks,
        "Licences",
        Some(&answer.licence_references.join(", ")),
    );
    field(blocks, "Answer", answer.text.as_deref());
    if !answer.transfers.is_empty() {
        let rows = answer
            .transfers
            .iter()
            .map(|t| {
                let text = |v: &Option<String>| v.clone().unwrap_or_default();
                vec![
                    t.date.map(|d| d.to_string()).unwrap_or_default(),
                    text(&t.from),
                    text(&t.to),
                    t.exporting_country
                        .map(|c| c.as_str().to_string())
                        .unwrap_or_default(),
                    t.importing_country
                        .map(|c| c.as_str().to_string())
                        .unwrap_or_default(),
                    text(&t.licence_reference),
                ]
            })
            .collect();
        blocks.push(Block::Table {
            headers: ["Date", "From", "To", "Export", "Import", "Licence"]
                .map(String::from)
                .to_vec(),
            widths: vec![1.0, 2.0, 2.0, 0.7, 0.7, 1.6],
            rows,
        });
    }
}

/// One request as a PDF for the case file.
pub fn case_file_pdf(view: &TraceView, actor: &Actor, now: DateTime<Utc>) -> Vec<u8> {
    let t = &view.trace;
    let c = &t.content;
    let f = &c.firearm;
    let mut blocks = vec![Block::Heading("Request".into())];
    field(&mut blocks, "Status", Some(status_words(t.status)));
    field(&mut blocks, "Priority", Some(t.priority.as_str()));
    field(&mut blocks, "Why urgent", c.urgency.as_deref());
    field(
        &mut blocks,
        "From",
        Some(&format!(
            "{} ({})",
            t.requester_organisation, t.requester_country
        )),
    );
    field(&mut blocks, "To", t.to_country.map(|c| c.name()));
    field(&mut blocks, "Written by", Some(&t.created_by));
    field(&mut blocks, "Sent", Some(&day(t.sent_at)));
    if let Some(d) = t.deadlines {
        field(
            &mut blocks,
            "Acknowledge by",
            Some(&day(Some(d.acknowledge_by))),
        );
        field(&mut blocks, "Answer by", Some(&day(Some(d.answer_by))));
    }
    if let Some(late) = view.late {
        field(&mut blocks, "Late", Some(late.as_str()));
    }
    field(&mut blocks, "Legal basis", c.legal_basis.as_deref());
    field(&mut blocks, "Intended use", c.intended_use.as_deref());
    blocks.push(Block::Heading("Firearm".into()));
    field(
        &mut blocks,
        "Serial numbers",
        Some(&f.serial_numbers.join(", ")),
    );
    if f.serial_obliterated {
        field(&mut blocks, "Serial", Some("filed off"));
        field(&mut blocks, "Restored", f.restored_serial.as_deref());
    }
    field(&mut blocks, "Make", f.make.as_deref());
    field(&mut blocks, "Model", f.model.as_deref());
    field(&mut blocks, "Calibre", f.calibre.as_deref());
    field(&mut blocks, "Type", f.firearm_type.as_deref());
    field(
        &mut blocks,
        "Made in",
        f.country_of_manufacture.map(|c| c.name()),
    );
    field(&mut blocks, "Import marks", f.import_marks.as_deref());
    field(&mut blocks, "Other markings", f.other_markings.as_deref());
    field(
        &mut blocks,
        "Matching record",
        f.record_id.map(|r| r.to_string()).as_deref(),
    );
    let s = &c.circumstances;
    blocks.push(Block::Heading("Circumstances".into()));
    field(
        &mut blocks,
        "Seized on",
        s.seized_on.map(|d| d.to_string()).as_deref(),
    );
    field(&mut blocks, "Place", s.place.as_deref());
    field(&mut blocks, "Case reference", s.case_reference.as_deref());
    field(&mut blocks, "Crime", s.crime_type.as_deref());
    field(&mut blocks, "How found", s.how_found.as_deref());
    if let Some(answer) = &t.answer {
        answer_blocks(&mut blocks, answer);
    }
    if view.chain.len() > 1 {
        blocks.push(Block::Heading("Chain".into()));
        blocks.push(Block::Table {
            headers: ["Request", "From", "To", "Status", "Result"]
                .map(String::from)
                .to_vec(),
            widths: vec![1.0, 1.0, 1.0, 1.6, 1.2],
            rows: view
                .chain
                .iter()
                .map(|l| {
                    vec![
                        l.id.to_string(),
                        l.requester_country.as_str().to_string(),
                        l.to_country
                            .map(|c| c.as_str().to_string())
                            .unwrap_or_default(),
                        status_words(l.status).to_string(),
                        l.result.map(|r| r.as_str()).unwrap_or("").replace('_', " "),
                    ]
                })
                .collect(),
        });
    }
    if !view.attachments.is_empty() {
        blocks.push(Block::Heading("Attachments".into()));
        for a in &view.attachments {
            blocks.push(Block::Field(
                a.name.clone(),
                format!("{}, {} bytes, SHA-256 {}", a.content_type, a.size, a.sha256),
            ));
        }
    }
    blocks.push(Block::Heading("Timeline".into()));
    blocks.push(Block::Table {
        headers: ["When", "Who", "What", "Note"].map(String::from).to_vec(),
        widths: vec![1.3, 1.8, 1.4, 3.0],
        rows: view
            .timeline
            .iter()
            .map(|e| {
                vec![
                    day(Some(e.at)),
                    format!("{} ({})", e.username, e.organisation),
                    e.event.trim_start_matches("trace.").replace('_', " "),
                    e.text.clone().unwrap_or_default(),
                ]
            })
            .collect(),
    });
    Report {
        title: format!("Armstrace trace request {}", t.id),
        subtitle: produced(actor, now),
        landscape: false,
        blocks,
    }
    .to_pdf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_that_a_spreadsheet_would_run_is_quoted() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("-1"), "'-1");
        assert_eq!(cell("Glock"), "Glock");
    }
}
