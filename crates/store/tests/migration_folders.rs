//! The SQLite and PostgreSQL migration folders describe one schema: the same files, and the same
//! SQL in each but for the dialect spellings normalised below and the differences listed in
//! [`INTENDED`], each with its reason. A new difference (a column added on one side only, a type
//! changed) fails this test until it is made on both sides or listed; a listed difference that
//! no longer appears fails it too, so the list stays exact.
//!
//! The schema is written to read the same through sqlx's Any driver on both databases: times are
//! UTC RFC 3339 `text`, flags `bigint` 0/1, blobs live in blob storage (keys are `text`). So
//! `timestamptz`/`text`, `boolean`/`integer` or `bytea`/`blob` pairs are deliberately *not*
//! normalised: on this schema they would be a real difference.

use std::collections::BTreeSet;
use std::path::Path;

/// Dialect spellings that mean the same column on both databases, SQLite's first.
const DIALECT: &[(&str, &str)] = &[
    // A 64-bit key numbered by the database (letter_event.seq).
    ("integer primary key autoincrement", "bigserial primary key"),
];

/// The migrations of one folder: (file name, SQL), by name.
type Folder = Vec<(String, String)>;

/// A difference the two folders are meant to have.
struct Intended {
    /// The migration file.
    file: &'static str,
    /// The normalised SQLite lines, in order.
    sqlite: &'static [&'static str],
    /// The normalised PostgreSQL lines, in order.
    postgres: &'static [&'static str],
}

/// Every intended difference. Each entry says why.
const INTENDED: &[Intended] = &[
    // SQLite has one writer, so events commit in `seq` order and `tx_order` is always 0; on
    // PostgreSQL the store writes the writing transaction's id (pg_current_xact_id()), so the
    // feed can order by (tx_order, seq) and hold back events of transactions still running.
    Intended {
        file: "0001_foundation.sql",
        sqlite: &["tx_order bigint not null default 0,"],
        postgres: &["tx_order bigint not null,"],
    },
    // Copying each letter's mode onto its events: a correlated subquery on SQLite, `update …
    // from` on PostgreSQL, which touches only the test letters' events (the default is 0).
    Intended {
        file: "0008_test_world_and_channel_changes.sql",
        sqlite: &[
            "update letter_event set test = (select l.test from letter l where l.letter_id = letter_event.letter_id);",
        ],
        postgres: &[
            "update letter_event e set test = l.test from letter l where l.letter_id = e.letter_id and l.test <> 0;",
        ],
    },
    // Idempotency keys become per mode: SQLite cannot change a table's primary key, so the
    // table is rebuilt under a new name, filled, and renamed; PostgreSQL alters it in place.
    Intended {
        file: "0008_test_world_and_channel_changes.sql",
        sqlite: &[
            "create table idempotency_key_by_mode (",
            "agency_id text not null references agency (agency_id),",
            "test bigint not null,",
            "idempotency_key text not null,",
            "request_hash text not null,",
            "status_code bigint not null,",
            "response_body text not null,",
            "created_at text not null,",
            "primary key (agency_id, test, idempotency_key)",
            ");",
            "insert into idempotency_key_by_mode",
            "(agency_id, test, idempotency_key, request_hash, status_code, response_body, created_at)",
            "select agency_id, 0, idempotency_key, request_hash, status_code, response_body, created_at from idempotency_key;",
            "drop table idempotency_key;",
            "alter table idempotency_key_by_mode rename to idempotency_key;",
        ],
        postgres: &[
            "alter table idempotency_key add column test bigint not null default 0;",
            "alter table idempotency_key drop constraint idempotency_key_pkey;",
            "alter table idempotency_key add primary key (agency_id, test, idempotency_key);",
        ],
    },
    // Masking stored citizen ids inside the letters' JSON: SQLite's json_set/json_extract
    // against PostgreSQL's jsonb_set and #>> (the column is text on both, so PostgreSQL casts).
    Intended {
        file: "0008_test_world_and_channel_changes.sql",
        sqlite: &[
            "set content = json_set(",
            "content,",
            "'$.recipient.citizen_id',",
            "'xxxxxxxxx' || substr(json_extract(content, '$.recipient.citizen_id'), 10, 4))",
            "where length(json_extract(content, '$.recipient.citizen_id')) = 13",
            "and json_extract(content, '$.recipient.citizen_id') not like 'x%';",
        ],
        postgres: &[
            "set content = jsonb_set(",
            "content::jsonb,",
            "'{recipient,citizen_id}',",
            "to_jsonb('xxxxxxxxx' || substr(content::jsonb #>> '{recipient,citizen_id}', 10, 4)))::text",
            "where length(content::jsonb #>> '{recipient,citizen_id}') = 13",
            "and content::jsonb #>> '{recipient,citizen_id}' not like 'x%';",
        ],
    },
    // The audit log refuses changes and deletions: SQLite triggers raise(abort, …); PostgreSQL
    // needs a trigger function.
    Intended {
        file: "0010_people.sql",
        sqlite: &[
            "create trigger audit_event_no_update before update on audit_event",
            "begin select raise(abort, 'the audit log is append-only'); end;",
            "create trigger audit_event_no_delete before delete on audit_event",
            "begin select raise(abort, 'the audit log is append-only'); end;",
        ],
        postgres: &[
            "create function audit_event_append_only() returns trigger language plpgsql as $$",
            "begin raise exception 'the audit log is append-only'; end; $$;",
            "create trigger audit_event_no_change before update or delete on audit_event",
            "for each row execute function audit_event_append_only();",
        ],
    },
    // The recipient's name for the letter search, read out of the stored JSON: `json_extract`
    // on SQLite, `#>>` on PostgreSQL, whose index needs `text_pattern_ops` for a prefix LIKE
    // under any collation.
    Intended {
        file: "0012_letter_search.sql",
        sqlite: &[
            "update letter set search_name = lower(coalesce(json_extract(content, '$.recipient.name'), ''));",
            "create index letter_agency_search_idx on letter (agency_id, test, search_name);",
        ],
        postgres: &[
            "update letter set search_name = lower(coalesce(content::jsonb #>> '{recipient,name}', ''));",
            "create index letter_agency_search_idx on letter (agency_id, test, search_name text_pattern_ops);",
        ],
    },
    // The same for the start of a reference.
    Intended {
        file: "0015_letter_search_indexes.sql",
        sqlite: &["create index letter_agency_reference_idx on letter (agency_id, test, reference);"],
        postgres: &[
            "create index letter_agency_reference_idx on letter (agency_id, test, reference text_pattern_ops);",
        ],
    },
];

/// A run of lines that differs: SQLite's lines where PostgreSQL has its own.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hunk {
    sqlite: Vec<String>,
    postgres: Vec<String>,
}

/// The SQL of a migration as compared: comments, blank lines and indentation gone, spaces
/// collapsed, lower case, dialect spellings in their PostgreSQL form.
fn normalise(sql: &str) -> Vec<String> {
    sql.lines()
        .map(|line| {
            let mut line = without_comment(line).split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
            for (sqlite, postgres) in DIALECT {
                line = line.replace(sqlite, postgres);
            }
            line
        })
        .filter(|line| !line.is_empty())
        .collect()
}

/// `line` up to a `--` comment that is not inside a string literal.
fn without_comment(line: &str) -> &str {
    let mut in_string = false;
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\'' => in_string = !in_string,
            b'-' if !in_string && bytes.get(i + 1) == Some(&b'-') => return &line[..i],
            _ => {}
        }
    }
    line
}

/// The runs of lines that differ between `a` and `b` (longest common subsequence).
fn hunks(a: &[String], b: &[String]) -> Vec<Hunk> {
    let (n, m) = (a.len(), b.len());
    // common[i][j]: length of the longest common subsequence of a[i..] and b[j..].
    let mut common = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            common[i][j] = if a[i] == b[j] { common[i + 1][j + 1] + 1 } else { common[i + 1][j].max(common[i][j + 1]) };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    let mut open = Hunk { sqlite: Vec::new(), postgres: Vec::new() };
    let mut close = |open: &mut Hunk| {
        if !open.sqlite.is_empty() || !open.postgres.is_empty() {
            out.push(std::mem::replace(open, Hunk { sqlite: Vec::new(), postgres: Vec::new() }));
        }
    };
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            close(&mut open);
            i += 1;
            j += 1;
        } else if j == m || (i < n && common[i + 1][j] >= common[i][j + 1]) {
            open.sqlite.push(a[i].clone());
            i += 1;
        } else {
            open.postgres.push(b[j].clone());
            j += 1;
        }
    }
    close(&mut open);
    out
}

/// What is wrong with the folders: files on one side only, differences not in `intended`, and
/// entries of `intended` that no longer appear. Empty when the folders agree.
fn problems(sqlite: &[(String, String)], postgres: &[(String, String)], intended: &[Intended]) -> Vec<String> {
    let mut out = Vec::new();
    let names = |files: &[(String, String)]| files.iter().map(|(n, _)| n.clone()).collect::<BTreeSet<_>>();
    let (sqlite_names, postgres_names) = (names(sqlite), names(postgres));
    for only in sqlite_names.symmetric_difference(&postgres_names) {
        let side = if sqlite_names.contains(only) { "sqlite" } else { "postgres" };
        out.push(format!("{only} is only in the {side} folder"));
    }
    let mut used = vec![false; intended.len()];
    for (name, sqlite_sql) in sqlite {
        let Some((_, postgres_sql)) = postgres.iter().find(|(n, _)| n == name) else { continue };
        for hunk in hunks(&normalise(sqlite_sql), &normalise(postgres_sql)) {
            let listed =
                intended.iter().position(|e| e.file == name && e.sqlite == hunk.sqlite && e.postgres == hunk.postgres);
            match listed {
                Some(k) => used[k] = true,
                None => out.push(format!(
                    "{name}: a difference not listed as intended\n  sqlite:   {:?}\n  postgres: {:?}",
                    hunk.sqlite, hunk.postgres
                )),
            }
        }
    }
    for (entry, used) in intended.iter().zip(used) {
        if !used {
            out.push(format!(
                "{}: the intended difference starting {:?} / {:?} no longer appears; take it off the list",
                entry.file,
                entry.sqlite.first(),
                entry.postgres.first()
            ));
        }
    }
    out
}

/// The `.sql` files of a folder, by name.
fn folder(dir: &Path) -> Folder {
    let mut files: Folder = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable folder entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "sql"))
        .map(|path| {
            let name = path.file_name().expect("a file name").to_string_lossy().into_owned();
            let sql = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (name, sql)
        })
        .collect();
    files.sort();
    files
}

/// The crate's two migration folders.
fn migrations() -> (Folder, Folder) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let (sqlite, postgres) = (folder(&root.join("sqlite")), folder(&root.join("postgres")));
    assert!(!sqlite.is_empty(), "no migrations found under {}", root.display());
    (sqlite, postgres)
}

#[test]
fn the_sqlite_and_postgres_migrations_differ_only_where_intended() {
    let (sqlite, postgres) = migrations();
    let problems = problems(&sqlite, &postgres, INTENDED);
    assert!(problems.is_empty(), "the migration folders disagree:\n{}", problems.join("\n"));
}

#[test]
fn a_type_changed_in_one_real_migration_fails_the_comparison() {
    let (sqlite, mut postgres) = migrations();
    let (_, sql) = postgres.iter_mut().find(|(name, _)| name == "0004_print.sql").expect("the print migration");
    assert!(sql.contains("pdf_blob text,"));
    *sql = sql.replacen("pdf_blob text,", "pdf_blob bytea,", 1);
    let problems = problems(&sqlite, &postgres, INTENDED);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("0004_print.sql:") && problems[0].contains("pdf_blob bytea"), "{problems:?}");
}

/// A small schema in both dialects, differing as the first entry of `INTENDED` allows.
fn small_pair() -> (String, String) {
    let sqlite = "-- Events.\ncreate table letter_event (\n    seq integer primary key autoincrement,\n    \
                  tx_order bigint not null default 0,\n    event_id text not null unique,\n    \
                  kind text not null -- what happened\n);\n";
    let postgres = "-- Events, in the global order.\ncreate table letter_event (\n    seq bigserial primary key,\n  \
                    tx_order bigint not null,\n    event_id text not null unique,\n    \
                    kind text not null\n);\n";
    (sqlite.to_owned(), postgres.to_owned())
}

fn one(name: &str, sql: String) -> Folder {
    vec![(name.to_owned(), sql)]
}

#[test]
fn comments_layout_and_dialect_spellings_do_not_count_and_a_listed_difference_passes() {
    let (sqlite, postgres) = small_pair();
    let problems = problems(&one("0001_foundation.sql", sqlite), &one("0001_foundation.sql", postgres), &INTENDED[..1]);
    assert_eq!(problems, Vec::<String>::new());
}

#[test]
fn a_new_unintended_difference_fails_the_comparison() {
    let (sqlite, postgres) = small_pair();
    // A column's type changed on one side only.
    let altered = postgres.replace("kind text not null", "kind varchar(40) not null");
    let changed =
        problems(&one("0001_foundation.sql", sqlite.clone()), &one("0001_foundation.sql", altered), &INTENDED[..1]);
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert!(
        changed[0].contains("kind text not null") && changed[0].contains("kind varchar(40) not null"),
        "{changed:?}"
    );

    // A column added on one side only.
    let added = postgres.replace("kind text not null", "kind text not null,\n    note text");
    let added = problems(&one("0001_foundation.sql", sqlite), &one("0001_foundation.sql", added), &INTENDED[..1]);
    assert_eq!(added.len(), 1, "{added:?}");
    assert!(added[0].contains("note text"), "{added:?}");
}

#[test]
fn a_file_on_one_side_only_fails_the_comparison() {
    let (sqlite, postgres) = small_pair();
    let mut postgres_files = one("0001_foundation.sql", postgres);
    postgres_files.push(("0002_more.sql".to_owned(), "create table x (x_id text);".to_owned()));
    let problems = problems(&one("0001_foundation.sql", sqlite), &postgres_files, &INTENDED[..1]);
    assert_eq!(problems, ["0002_more.sql is only in the postgres folder"]);
}

#[test]
fn an_allowance_that_no_longer_appears_fails_the_comparison() {
    // Both sides the same: the allowance for tx_order matches nothing.
    let (sqlite, _) = small_pair();
    let problems =
        problems(&one("0001_foundation.sql", sqlite.clone()), &one("0001_foundation.sql", sqlite), &INTENDED[..1]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("no longer appears"), "{problems:?}");
}

#[test]
fn a_comment_marker_inside_a_string_is_not_a_comment() {
    assert_eq!(without_comment("insert into t values ('a--b'); -- note"), "insert into t values ('a--b'); ");
    assert_eq!(normalise("  SELECT   1;  -- one\n\n"), ["select 1;"]);
}
