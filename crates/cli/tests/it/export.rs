//! `armstrace export`: the import format back out, filtered, round-tripping through import.

use crate::support::{Installation, armstrace, count_records};

#[tokio::test]
async fn export_then_import_into_a_new_database_round_trips() {
    let source = Installation::new();
    let list = source.path("generated.csv");
    let generated = armstrace()
        .args(["gen", "--records", "3000", "--seed", "11"])
        .output()
        .unwrap();
    std::fs::write(&list, &generated.stdout).unwrap();
    let imported = source.run(&["import", list.to_str().unwrap()]);
    assert!(
        String::from_utf8(imported.stdout)
            .unwrap()
            .contains("imported 3000")
    );

    for format in ["csv", "jsonl"] {
        let exported = source.path(&format!("export.{format}"));
        let output = source.run(&[
            "export",
            "--format",
            format,
            "--output",
            exported.to_str().unwrap(),
        ]);
        assert!(output.status.success(), "{output:?}");

        let target = Installation::new();
        let name = if format == "csv" {
            "in.csv"
        } else {
            "in.ndjson"
        };
        let copy = target.path(name);
        std::fs::copy(&exported, &copy).unwrap();
        let output = target.run(&["import", copy.to_str().unwrap()]);
        assert!(
            String::from_utf8_lossy(&output.stdout)
                .contains("imported 3000, updated 0, rejected 0"),
            "{format}: {output:?}"
        );
        assert_eq!(count_records(&target.db).await, 3000);
        let again = target.path(&format!("again.{format}"));
        target.run(&[
            "export",
            "--format",
            format,
            "--output",
            again.to_str().unwrap(),
        ]);
        assert_eq!(
            std::fs::read(&exported).unwrap(),
            std::fs::read(&again).unwrap(),
            "{format} export differs after a round trip"
        );
    }
}

#[test]
fn export_filters_by_country_status_and_make() {
    let installation = Installation::new();
    let list = installation.path("l.csv");
    std::fs::write(
        &list,
        "record_id,serial_number,make,model,calibre,firearm_type,country_of_manufacture,recording_country,status,event_date\n\
         1,A,Glock,17,9mm,pistol,AT,FR,stolen,2020-01-01\n\
         2,B,Glock,17,9mm,pistol,AT,FR,lost,2020-01-01\n\
         3,C,Walther,P99,9mm,pistol,DE,FR,stolen,2020-01-01\n\
         4,D,Glock,17,9mm,pistol,AT,DE,stolen,2020-01-01\n",
    )
    .unwrap();
    installation.run(&["import", list.to_str().unwrap()]);
    let output = installation.run(&[
        "export",
        "--recording-country",
        "fr",
        "--status",
        "stolen",
        "--make",
        "GLOCK",
    ]);
    let text = String::from_utf8(output.stdout).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{text}");
    assert!(rows[0].starts_with("1,A,Glock"));
    let bad = installation.run(&["export", "--recording-country", "QQ"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8(bad.stderr)
            .unwrap()
            .contains("not an ISO 3166-1")
    );
}
