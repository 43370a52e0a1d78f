//! The FileStream tasks.
//!
//! [`FileStreamSourceTask`] tails a file like `tail -f`: every complete line
//! (ended by `\n`, `\r\n` or `\r`, as Kafka's task splits them) becomes a
//! record with a required string value schema, source partition
//! `{"filename": <file>}` and source offset `{"position": <byte offset after
//! the line>}`, the keys Kafka's FileStreamSourceTask uses. A partial last
//! line is held until its terminator arrives.
//!
//! [`FileStreamSinkTask`] appends each record's value in text form plus `\n`
//! and makes it durable (flush + fsync) on `flush`.
//!
//! File I/O runs on tokio's blocking pool, one hop per `poll`/`flush`, so
//! the async runtime's threads never wait on the disk.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use velocity_api::text::connect_to_string;
use velocity_api::{
    ConnectRecord, Offset, Partition, RawConfig, Result, Schema, SchemaRef, SinkRecord, SinkTask,
    SourceRecord, SourceTask, TaskContext, TypedConfig, Value,
};

use crate::config::{FileSinkConfig, FileSourceConfig};
use crate::error::FileError;

/// Source partition key: the file name (Kafka's `FILENAME_FIELD`).
pub const FILENAME_FIELD: &str = "filename";
/// Source offset key: the byte position after the last delivered line
/// (Kafka's `POSITION_FIELD`).
pub const POSITION_FIELD: &str = "position";
/// How long `poll` waits when no complete line is available.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How many bytes one read asks the file for.
const READ_CHUNK: usize = 256 * 1024;

/// Reads FileStreamSource's file and emits one record per line.
#[derive(Default)]
pub struct FileStreamSourceTask {
    state: Option<SourceState>,
}

struct SourceState {
    config: FileSourceConfig,
    partition: Partition,
    schema: SchemaRef,
    /// The open file, or None until it exists (it is opened on first poll).
    reader: Option<LineReader>,
    /// Byte position after the last line returned by `poll`.
    position: u64,
    warned_missing: bool,
}

/// Splits a growing file into lines, tracking byte positions.
struct LineReader {
    file: File,
    /// Bytes read from the file and not yet returned as lines; `buf[cursor..]`
    /// starts at byte `position` of the file.
    buf: Vec<u8>,
    cursor: usize,
    position: u64,
}

impl LineReader {
    /// Opens `path` and seeks to `position`.
    fn open(path: &str, position: u64) -> io::Result<LineReader> {
        let mut file = File::open(path)?;
        if position > 0 {
            file.seek(SeekFrom::Start(position))?;
        }
        Ok(LineReader {
            file,
            buf: Vec::with_capacity(READ_CHUNK),
            cursor: 0,
            position,
        })
    }

    /// Up to `max` complete lines with the byte position after each. Reads
    /// only as much as needed; returns fewer (possibly none) at end of file.
    fn read_lines(&mut self, max: usize) -> io::Result<Vec<(String, u64)>> {
        let mut lines = Vec::new();
        loop {
            while lines.len() < max {
                let rest = &self.buf[self.cursor..];
                let Some(i) = rest.iter().position(|&b| b == b'\n' || b == b'\r') else {
                    break;
                };
                let next = if rest[i] == b'\n' {
                    i + 1
                } else if i + 1 < rest.len() {
                    if rest[i + 1] == b'\n' {
                        i + 2
                    } else {
                        i + 1
                    }
                } else {
                    // A trailing '\r' may be the first half of "\r\n": wait.
                    break;
                };
                let line = String::from_utf8_lossy(&rest[..i]).into_owned();
                self.cursor += next;
                self.position += next as u64;
                lines.push((line, self.position));
            }
            if lines.len() >= max {
                break;
            }
            // Need more bytes: compact, then read.
            self.buf.drain(..self.cursor);
            self.cursor = 0;
            let old = self.buf.len();
            self.buf.resize(old + READ_CHUNK, 0);
            let n = loop {
                match self.file.read(&mut self.buf[old..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        self.buf.truncate(old);
                        return Err(e);
                    }
                }
            };
            self.buf.truncate(old + n);
            if n == 0 {
                break;
            }
        }
        Ok(lines)
    }
}

/// What one blocking read produced.
enum ReadOutcome {
    /// The file does not exist (yet).
    Missing,
    /// Lines read (possibly none).
    Lines(Vec<(String, u64)>),
}

fn now_millis() -> Option<i64> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_millis() as i64)
}

/// The stored position for `partition`, checked to be Kafka's long.
fn stored_position(ctx: &TaskContext, partition: &Partition, path: &str) -> Result<u64, FileError> {
    let Some(offset) = ctx.offsets.offset(partition) else {
        return Ok(0);
    };
    match offset.get(POSITION_FIELD) {
        None | Some(serde_json::Value::Null) => Ok(0),
        Some(v) => v.as_u64().ok_or_else(|| FileError::BadOffset {
            path: path.to_owned(),
            found: v.to_string(),
        }),
    }
}

#[async_trait]
impl SourceTask for FileStreamSourceTask {
    async fn start(&mut self, config: &RawConfig, ctx: TaskContext) -> Result<()> {
        let config = FileSourceConfig::from_raw(config)?;
        let mut partition = Partition::new();
        partition.insert(FILENAME_FIELD.to_owned(), config.file.clone().into());
        let position = stored_position(&ctx, &partition, &config.file)?;
        if position > 0 {
            tracing::debug!(file = %config.file, position, "resuming from stored offset");
        }
        self.state = Some(SourceState {
            config,
            partition,
            schema: Arc::new(Schema::string()),
            reader: None,
            position,
            warned_missing: false,
        });
        Ok(())
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        let st = self
            .state
            .as_mut()
            .ok_or(FileError::NotStarted("FileStreamSourceTask"))?;
        let reader = st.reader.take();
        let path = st.config.file.clone();
        let (position, batch) = (st.position, st.config.batch_size);
        let (reader, outcome) = tokio::task::spawn_blocking(move || {
            let mut reader = match reader {
                Some(r) => r,
                None => match LineReader::open(&path, position) {
                    Ok(r) => r,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        return (None, Ok(ReadOutcome::Missing))
                    }
                    Err(source) => {
                        let task = "FileStreamSourceTask";
                        return (None, Err(FileError::Open { path, task, source }));
                    }
                },
            };
            let result = reader.read_lines(batch).map(ReadOutcome::Lines);
            let result = result.map_err(|source| FileError::Io {
                path,
                action: "reading",
                source,
            });
            (Some(reader), result)
        })
        .await
        .map_err(|e| FileError::Worker(e.to_string()))?;
        st.reader = reader;
        let lines = match outcome? {
            ReadOutcome::Missing => {
                if !st.warned_missing {
                    tracing::warn!(file = %st.config.file, "Couldn't find file for FileStreamSourceTask, waiting for it to be created");
                    st.warned_missing = true;
                }
                tokio::time::sleep(POLL_INTERVAL).await;
                return Ok(Vec::new());
            }
            ReadOutcome::Lines(lines) => lines,
        };
        if lines.is_empty() {
            tokio::time::sleep(POLL_INTERVAL).await;
            return Ok(Vec::new());
        }
        st.warned_missing = false;
        let timestamp = now_millis();
        let mut records = Vec::with_capacity(lines.len());
        for (line, position) in lines {
            let mut offset = Offset::new();
            offset.insert(POSITION_FIELD.to_owned(), position.into());
            let mut record = ConnectRecord::new(
                st.config.topic.clone(),
                None,
                Value::Null,
                Some(Arc::clone(&st.schema)),
                Value::String(line),
            );
            record.timestamp = timestamp;
            records.push(SourceRecord {
                source_partition: st.partition.clone(),
                source_offset: offset,
                record,
            });
            st.position = position;
        }
        Ok(records)
    }

    async fn stop(&mut self) -> Result<()> {
        if let Some(st) = self.state.as_mut() {
            st.reader = None;
        }
        Ok(())
    }
}

/// Appends FileStreamSink's records to its file.
#[derive(Default)]
pub struct FileStreamSinkTask {
    path: String,
    writer: Option<BufWriter<File>>,
}

impl FileStreamSinkTask {
    fn io_error(&self, action: &'static str, source: io::Error) -> FileError {
        FileError::Io {
            path: self.path.clone(),
            action,
            source,
        }
    }
}

#[async_trait]
impl SinkTask for FileStreamSinkTask {
    async fn start(&mut self, config: &RawConfig, _ctx: TaskContext) -> Result<()> {
        let config = FileSinkConfig::from_raw(config)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&config.file)
            .map_err(|source| FileError::Open {
                path: config.file.clone(),
                task: "FileStreamSinkTask",
                source,
            })?;
        self.writer = Some(BufWriter::with_capacity(256 * 1024, file));
        self.path = config.file;
        Ok(())
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()> {
        let mut writer = self
            .writer
            .take()
            .ok_or(FileError::NotStarted("FileStreamSinkTask"))?;
        let mut result = Ok(());
        for r in &records {
            let written = match &r.record.value {
                Value::String(s) => writer
                    .write_all(s.as_bytes())
                    .and_then(|_| writer.write_all(b"\n")),
                other => {
                    let mut line = connect_to_string(r.record.value_schema.as_deref(), other);
                    line.push('\n');
                    writer.write_all(line.as_bytes())
                }
            };
            if let Err(e) = written {
                result = Err(self.io_error("writing", e));
                break;
            }
        }
        self.writer = Some(writer);
        Ok(result?)
    }

    async fn flush(&mut self) -> Result<()> {
        let writer = self
            .writer
            .take()
            .ok_or(FileError::NotStarted("FileStreamSinkTask"))?;
        let (writer, result) = tokio::task::spawn_blocking(move || {
            let mut writer = writer;
            let result = writer.flush().and_then(|_| writer.get_ref().sync_data());
            (writer, result)
        })
        .await
        .map_err(|e| FileError::Worker(e.to_string()))?;
        self.writer = Some(writer);
        result.map_err(|e| self.io_error("flushing", e))?;
        Ok(())
    }

    async fn stop(&mut self) -> Result<()> {
        if let Some(mut writer) = self.writer.take() {
            writer.flush().map_err(|e| self.io_error("closing", e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;
    use velocity_api::{OffsetReader, Struct};

    #[derive(Default)]
    struct MemOffsets(Mutex<HashMap<String, Offset>>);

    impl OffsetReader for MemOffsets {
        fn offset(&self, partition: &Partition) -> Option<Offset> {
            let key = serde_json::to_string(partition).ok()?;
            self.0.lock().ok()?.get(&key).cloned()
        }
    }

    fn ctx(offsets: MemOffsets) -> TaskContext {
        TaskContext {
            connector: "c".into(),
            task_id: 0,
            offsets: Arc::new(offsets),
        }
    }

    fn source_cfg(path: &std::path::Path, batch: usize) -> RawConfig {
        [
            ("file", path.to_str().unwrap().to_owned()),
            ("topic", "lines".to_owned()),
            ("batch.size", batch.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    fn texts(records: &[SourceRecord]) -> Vec<&str> {
        records
            .iter()
            .map(|r| r.record.value.as_str().unwrap())
            .collect()
    }

    fn positions(records: &[SourceRecord]) -> Vec<u64> {
        records
            .iter()
            .map(|r| r.source_offset[POSITION_FIELD].as_u64().unwrap())
            .collect()
    }

    fn append(path: &std::path::Path, data: &str) {
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .unwrap();
        f.write_all(data.as_bytes()).unwrap();
    }

    #[tokio::test]
    async fn reads_lines_with_kafka_partition_and_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        append(&path, "one\ntwo\r\nthree\rfour\n");
        let mut task = FileStreamSourceTask::default();
        task.start(&source_cfg(&path, 100), ctx(MemOffsets::default()))
            .await
            .unwrap();
        let recs = task.poll().await.unwrap();
        assert_eq!(texts(&recs), vec!["one", "two", "three", "four"]);
        assert_eq!(positions(&recs), vec![4, 9, 15, 20]);
        let r = &recs[0];
        assert_eq!(
            r.source_partition[FILENAME_FIELD],
            serde_json::Value::from(path.to_str().unwrap())
        );
        assert_eq!(r.record.topic, "lines");
        assert_eq!(r.record.key, Value::Null);
        assert!(r.record.key_schema.is_none());
        let schema = r.record.value_schema.as_ref().unwrap();
        assert_eq!(**schema, Schema::string());
        assert!(r.record.timestamp.is_some());
        // Idle: nothing new.
        assert!(task.poll().await.unwrap().is_empty());
        task.stop().await.unwrap();
    }

    #[tokio::test]
    async fn respects_batch_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        let data: String = (0..10).map(|i| format!("l{i}\n")).collect();
        append(&path, &data);
        let mut task = FileStreamSourceTask::default();
        task.start(&source_cfg(&path, 4), ctx(MemOffsets::default()))
            .await
            .unwrap();
        let mut all = Vec::new();
        for want in [4, 4, 2] {
            let recs = task.poll().await.unwrap();
            assert_eq!(recs.len(), want);
            all.extend(recs);
        }
        assert_eq!(texts(&all).len(), 10);
        assert_eq!(texts(&all)[9], "l9");
        assert_eq!(*positions(&all).last().unwrap(), data.len() as u64);
    }

    #[tokio::test]
    async fn resumes_from_stored_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        append(&path, "alpha\nbeta\ngamma\n");
        let offsets = MemOffsets::default();
        let mut partition = Partition::new();
        partition.insert(FILENAME_FIELD.into(), path.to_str().unwrap().into());
        let mut offset = Offset::new();
        offset.insert(POSITION_FIELD.into(), 6.into());
        offsets
            .0
            .lock()
            .unwrap()
            .insert(serde_json::to_string(&partition).unwrap(), offset);
        let mut task = FileStreamSourceTask::default();
        task.start(&source_cfg(&path, 100), ctx(offsets))
            .await
            .unwrap();
        let recs = task.poll().await.unwrap();
        assert_eq!(texts(&recs), vec!["beta", "gamma"]);
        assert_eq!(positions(&recs), vec![11, 17]);
    }

    #[tokio::test]
    async fn bad_stored_offset_is_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        let offsets = MemOffsets::default();
        let mut partition = Partition::new();
        partition.insert(FILENAME_FIELD.into(), path.to_str().unwrap().into());
        let mut offset = Offset::new();
        offset.insert(POSITION_FIELD.into(), "x".into());
        offsets
            .0
            .lock()
            .unwrap()
            .insert(serde_json::to_string(&partition).unwrap(), offset);
        let mut task = FileStreamSourceTask::default();
        let e = task
            .start(&source_cfg(&path, 100), ctx(offsets))
            .await
            .unwrap_err();
        assert!(!e.is_retriable());
        assert!(e.to_string().contains("incorrect type"), "{e}");
    }

    #[tokio::test]
    async fn holds_partial_lines_and_tails_a_growing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        let mut task = FileStreamSourceTask::default();
        task.start(&source_cfg(&path, 100), ctx(MemOffsets::default()))
            .await
            .unwrap();
        // File does not exist yet: idle, no error.
        assert!(task.poll().await.unwrap().is_empty());
        append(&path, "first\nsec");
        let recs = task.poll().await.unwrap();
        assert_eq!(texts(&recs), vec!["first"]);
        // Partial line is held.
        assert!(task.poll().await.unwrap().is_empty());
        append(&path, "ond\nthird\r");
        let recs = task.poll().await.unwrap();
        assert_eq!(texts(&recs), vec!["second"]);
        assert_eq!(positions(&recs), vec![13]);
        // A trailing '\r' waits to see whether '\n' follows.
        assert!(task.poll().await.unwrap().is_empty());
        append(&path, "\nfourth é\n");
        let recs = task.poll().await.unwrap();
        assert_eq!(texts(&recs), vec!["third", "fourth é"]);
        assert_eq!(positions(&recs), vec![20, 30]);
    }

    #[tokio::test]
    async fn poll_before_start_fails() {
        let mut task = FileStreamSourceTask::default();
        let e = task.poll().await.unwrap_err();
        assert_eq!(e.kind(), velocity_api::ErrorKind::Fatal, "{e}");
    }

    fn sink_record(value: Value, offset: i64) -> SinkRecord {
        let mut record = ConnectRecord::new("t", None, Value::Null, None, value);
        record.partition = Some(0);
        SinkRecord {
            record,
            kafka_offset: offset,
        }
    }

    #[tokio::test]
    async fn sink_appends_values_and_flushes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        std::fs::write(&path, "existing\n").unwrap();
        let cfg: RawConfig = [("file".to_owned(), path.to_str().unwrap().to_owned())].into();
        let mut task = FileStreamSinkTask::default();
        task.start(&cfg, ctx(MemOffsets::default())).await.unwrap();
        let s = Schema::struct_()
            .field("a", Schema::int32())
            .field("b", Schema::string().optional())
            .build();
        task.put(vec![
            sink_record(Value::from("hello"), 0),
            sink_record(Value::Null, 1),
            sink_record(Value::Int64(42), 2),
            sink_record(Value::Struct(Struct::new(s).put("a", 1)), 3),
        ])
        .await
        .unwrap();
        task.flush().await.unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "existing\nhello\nnull\n42\nStruct{a=1}\n"
        );
        task.put(vec![sink_record(Value::from("more"), 4)])
            .await
            .unwrap();
        task.stop().await.unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().ends_with("more\n"));
        let e = task.flush().await.unwrap_err().to_string();
        assert!(
            e.contains("FileStreamSinkTask"),
            "a stopped task names itself: {e}"
        );
    }

    #[tokio::test]
    async fn sink_reports_unwritable_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/dir/out.txt");
        let cfg: RawConfig = [("file".to_owned(), path.to_str().unwrap().to_owned())].into();
        let mut task = FileStreamSinkTask::default();
        let e = task
            .start(&cfg, ctx(MemOffsets::default()))
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("Couldn't find or create file"),
            "{e}"
        );
    }

    #[test]
    fn text_forms() {
        // Java's toString(), as Kafka's FileStreamSink writes it (shared with
        // the StringConverter): Java's float layout, bytes as base64
        assert_eq!(connect_to_string(None, &Value::Float64(1e20)), "1.0E20");
        assert_eq!(
            connect_to_string(
                None,
                &Value::Array(vec![Value::Int32(1), Value::Bytes(vec![0xab])])
            ),
            "[1, qw==]"
        );
        assert_eq!(
            connect_to_string(
                None,
                &Value::Map(vec![(Value::from("k"), Value::Boolean(true))])
            ),
            "{k=true}"
        );
    }
}
