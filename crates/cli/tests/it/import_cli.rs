//! `armstrace import`: the summary, the rejects file, re-import, and a killed import.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::support::{HEADER, Installation, armstrace, count_records, write_list};

#[tokio::test]
async fn bad_rows_go_to_a_rejects_file_beside_the_input_and_good_rows_go_in() {
    let installation = Installation::new();
    let list = installation.path("national.csv");
    std::fs::write(
        &list,
        format!("{HEADER},notes\nR1,S1,Glock,17,9mm,pistol,AT,FR,stolen,2020-01-01,first\nR2,S2,Glock,17,9mm,pistol,AT,FR,stolen,not-a-date,second\nR3,S3,Glock,17,9mm,pistol,AT,FR,stolen,2020-01-01,third\n"),
    )
    .unwrap();
    let output = installation.run(&["import", list.to_str().unwrap()]);
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("imported 2, updated 0, rejected 1"),
        "{stdout}"
    );
    let rejects = installation.path("national.csv.rejects.csv");
    assert!(stdout.contains(rejects.to_str().unwrap()));
    let text = std::fs::read_to_string(&rejects).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), format!("line,errors,{HEADER},notes"));
    let row = lines.next().unwrap();
    assert!(
        row.starts_with("3,event_date: 'not-a-date' is not a date"),
        "{row}"
    );
    assert!(
        row.ends_with("R2,S2,Glock,17,9mm,pistol,AT,FR,stolen,not-a-date,second"),
        "{row}"
    );
    assert_eq!(lines.next(), None);
    assert_eq!(count_records(&installation.db).await, 2);
}

#[tokio::test]
async fn a_corrected_rejects_file_imports_as_it_is() {
    let installation = Installation::new();
    let list = installation.path("list.csv");
    std::fs::write(
        &list,
        format!("{HEADER}\nR1,S1,Glock,17,9mm,pistol,AT,FR,stolen,2020-13-01\n"),
    )
    .unwrap();
    installation.run(&["import", list.to_str().unwrap()]);
    let rejects = installation.path("list.csv.rejects.csv");
    let corrected = std::fs::read_to_string(&rejects)
        .unwrap()
        .replace("2020-13-01", "2020-12-01");
    let fixed = installation.path("fixed.csv");
    std::fs::write(&fixed, corrected).unwrap();
    let output = installation.run(&["import", fixed.to_str().unwrap()]);
    assert!(
        String::from_utf8(output.stdout)
            .unwrap()
            .contains("imported 1, updated 0, rejected 0")
    );
}

#[tokio::test]
async fn a_clean_import_writes_no_rejects_file_and_a_second_run_duplicates_nothing() {
    let installation = Installation::new();
    let list = installation.path("list.csv");
    write_list(&list, "DE", 1200);
    let first = installation.run(&["import", list.to_str().unwrap()]);
    assert!(
        String::from_utf8(first.stdout)
            .unwrap()
            .contains("imported 1200, updated 0, rejected 0")
    );
    assert!(!installation.path("list.csv.rejects.csv").exists());
    let second = installation.run(&[
        "import",
        list.to_str().unwrap(),
        "--rejects",
        installation.path("r.csv").to_str().unwrap(),
    ]);
    assert!(
        String::from_utf8(second.stdout)
            .unwrap()
            .contains("imported 0, updated 0, rejected 0, unchanged 1200")
    );
    assert_eq!(count_records(&installation.db).await, 1200);
}

#[tokio::test]
async fn a_killed_import_keeps_every_batch_it_reported_and_running_it_again_finishes_it() {
    let installation = Installation::new();
    let list = installation.path("big.csv");
    let rows = 40_000;
    write_list(&list, "FR", rows);
    let mut child = armstrace()
        .args(["import", "--batch-rows", "500", "--db"])
        .arg(&installation.db)
        .arg(&list)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for a few committed batches, then kill without warning.
    let mut reported = 0_u64;
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.split("imported ").nth(1) {
            reported = rest.split(',').next().unwrap().parse().unwrap();
            if reported >= 1500 {
                break;
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        reported >= 1500,
        "the import never reported a committed batch"
    );
    let stored = count_records(&installation.db).await;
    assert!(
        stored >= reported,
        "reported {reported} committed but only {stored} stored"
    );
    assert!(
        stored < rows as u64,
        "the import finished before it was killed; kill it sooner"
    );

    let output = installation.run(&["import", list.to_str().unwrap()]);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "imported {}, updated 0, rejected 0, unchanged {stored}",
            rows as u64 - stored
        )),
        "{stdout}"
    );
    assert_eq!(count_records(&installation.db).await, rows as u64);
}

#[tokio::test]
async fn an_unreadable_header_stops_the_import_before_anything_is_written() {
    let installation = Installation::new();
    let list = installation.path("wrong.csv");
    std::fs::write(&list, "id,serial\n1,2\n").unwrap();
    let output = installation.run(&["import", list.to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("lacks the column(s) record_id, serial_number, make"),
        "{stderr}"
    );
    assert_eq!(count_records(&installation.db).await, 0);
}
