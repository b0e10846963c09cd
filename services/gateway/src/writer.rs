//! Group commit for new letters. Requests hand their prepared letter to one writer task, which
//! takes every letter waiting and writes them in one transaction with one multi-row insert per
//! table. Under load that turns hundreds of small transactions a second into a few dozen
//! larger ones: on SQLite, with its single writer, that is most of the cost of accepting a
//! letter; on PostgreSQL it saves a commit flush per letter.
//!
//! If a batch fails (an idempotency key used twice at once, a batch row sent before, a fault), each of its letters is
//! written again in a transaction of its own, so one bad letter never sinks the others.

use hybridpost_notify::outbox::{digital_notice, queue_event_webhooks};
use hybridpost_store::events::{self, NewEvent};
use hybridpost_store::idempotency::{self, IdempotencyRecord};
use hybridpost_store::letter_batches;
use hybridpost_store::letters::{self, LetterRecord};
use hybridpost_store::outbox;
use hybridpost_store::{Store, StoreError};
use tokio::sync::{mpsc, oneshot};

/// Most letters written in one transaction.
const MAX_BATCH: usize = 64;
/// Letters waiting for the writer before submitters wait for room.
const QUEUE: usize = 1024;

/// A letter ready to store, with its events and idempotency record.
#[derive(Debug)]
pub(crate) struct PreparedLetter {
    pub record: LetterRecord,
    pub events: Vec<NewEvent>,
    /// (key, stored response) when the request had an `Idempotency-Key`.
    pub idempotency: Option<(String, IdempotencyRecord)>,
    /// The verified address a digital letter's notice goes to, queued with the letter.
    pub digital_notice: Option<String>,
    /// The batch row the letter is sent from: marked sent, its key left, with the letter.
    pub row: Option<RowMark>,
}

/// A letter's batch row.
#[derive(Debug, Clone)]
pub(crate) struct RowMark {
    pub batch_id: uuid::Uuid,
    pub row_number: i64,
    pub row_key: String,
}

/// What became of a letter handed to the writer.
#[derive(Debug)]
pub(crate) enum Written {
    /// Stored.
    Stored,
    /// Not stored: another request with the same idempotency key was stored first.
    IdempotencyKeyTaken,
    /// Not stored: a letter with the same batch row key was sent before.
    RowSentBefore,
}

type Job = (PreparedLetter, oneshot::Sender<Result<Written, StoreError>>);

/// A handle on the writer task; cloning shares it. The task ends when every handle is gone.
#[derive(Clone, Debug)]
pub struct LetterWriter {
    jobs: mpsc::Sender<Job>,
}

impl LetterWriter {
    /// Starts the writer task on the current Tokio runtime.
    pub fn spawn(store: Store) -> LetterWriter {
        let (jobs, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(store, rx));
        LetterWriter { jobs }
    }

    /// Stores the letter (in some batch) and says how it went.
    pub(crate) async fn write(&self, letter: PreparedLetter) -> Result<Written, StoreError> {
        let (done, result) = oneshot::channel();
        let closed = || StoreError::Corrupt("the letter writer has stopped".into());
        self.jobs.send((letter, done)).await.map_err(|_| closed())?;
        result.await.map_err(|_| closed())?
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let jobs = std::mem::take(&mut batch);
        let size = jobs.len();
        match write_batch(&store, jobs.iter().map(|(l, _)| l)).await {
            Ok(()) => {
                metrics::histogram!("hybridpost_letter_write_batch_size").record(size as f64);
                for (_, done) in jobs {
                    let _ = done.send(Ok(Written::Stored));
                }
            }
            Err(e) => {
                if size > 1 {
                    tracing::debug!(batch.size = size, "letter batch failed ({e}); writing its letters one by one");
                }
                for (letter, done) in jobs {
                    let _ = done.send(write_one(&store, &letter).await);
                }
            }
        }
    }
}

async fn write_batch<'a>(
    store: &Store,
    letters: impl Iterator<Item = &'a PreparedLetter> + Clone,
) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    let records: Vec<LetterRecord> = letters.clone().map(|l| l.record.clone()).collect();
    letters::insert_letters(&mut tx, &records).await?;
    let recorded =
        events::append_events(&mut tx, letters.clone().flat_map(|l| l.events.iter().cloned()).collect()).await?;
    queue_event_webhooks(&mut tx, &recorded).await?;
    let notices: Vec<_> =
        letters.clone().filter_map(|l| l.digital_notice.as_ref().map(|to| digital_notice(&l.record, to))).collect();
    outbox::insert_notifications(&mut tx, &notices).await?;
    for l in letters {
        if let Some((key, stored)) = &l.idempotency {
            idempotency::insert(&mut tx, l.record.scope(), key, stored, &l.record.created_at).await?;
        }
        if let Some(row) = &l.row {
            let scope = l.record.scope();
            letter_batches::mark_row_sent(
                &mut tx,
                scope,
                row.batch_id,
                row.row_number,
                &row.row_key,
                l.record.letter_id,
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

async fn write_one(store: &Store, letter: &PreparedLetter) -> Result<Written, StoreError> {
    match write_batch(store, std::iter::once(letter)).await {
        Ok(()) => Ok(Written::Stored),
        Err(e) if e.is_unique_violation() && letter.idempotency.is_some() => Ok(Written::IdempotencyKeyTaken),
        Err(e) if e.is_unique_violation() && letter.row.is_some() => Ok(Written::RowSentBefore),
        Err(e) => Err(e),
    }
}
