//! The rows in ClickHouse's `RowBinary` format, which is how the spool keeps
//! them and how the shipper sends them: a row is encoded once, on the request
//! path, straight into the spool's mapped segment, and read back and sent as
//! those same bytes, with no decoding and encoding again per row.
//!
//! Owns: the byte layout of a row (its table's columns in order: a `String`
//! as its LEB128 length then its bytes, an integer little-endian at its
//! width, an `Array(String)` as its LEB128 length then its strings), the
//! spool's payload (a table tag, then the row), the batches the shipper
//! sends ([`EncodedRows`]), and reading a row's time and id by walking its
//! columns without decoding it.
//! Must never: let a payload that is not a whole row of its table into a
//! batch (one bad row would fail the whole insert), or hold more than a row
//! does.

use super::{ClickRow, EventRow, OpenRow, Record};

/// The tables rows are inserted into. A fixed enum: table names never come
/// from a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Events,
    EmailOpens,
    EmailClicks,
}

/// Every table, in the order a batch holds them (and [`Table::index`]).
const TABLES: [Table; 3] = [Table::Events, Table::EmailOpens, Table::EmailClicks];

/// A spool payload's first byte names its table. Payloads spooled by
/// earlier versions (postcard) start with a variant number from 0 to 4, so
/// these tags tell the two apart.
const TAGS: [(u8, Table); 3] = [
    (0x40, Table::Events),
    (0x41, Table::EmailOpens),
    (0x42, Table::EmailClicks),
];

/// Rows per insert chunk: the clickhouse crate's own insert sends chunks of
/// about 256 KiB, each compressed apart.
const CHUNK_BYTES: usize = 256 * 1024;

impl Table {
    pub fn name(self) -> &'static str {
        match self {
            Table::Events => "events",
            Table::EmailOpens => "email_opens",
            Table::EmailClicks => "email_clicks",
        }
    }

    /// The table's columns in the order its rows are encoded.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Table::Events => <EventRow as clickhouse::Row>::COLUMN_NAMES,
            Table::EmailOpens => <OpenRow as clickhouse::Row>::COLUMN_NAMES,
            Table::EmailClicks => <ClickRow as clickhouse::Row>::COLUMN_NAMES,
        }
    }

    fn index(self) -> usize {
        match self {
            Table::Events => 0,
            Table::EmailOpens => 1,
            Table::EmailClicks => 2,
        }
    }

    fn tag(self) -> u8 {
        TAGS[self.index()].0
    }

    fn tagged(tag: u8) -> Option<Table> {
        TAGS.iter()
            .find(|(known, _)| *known == tag)
            .map(|(_, table)| *table)
    }

    /// The kinds of the table's columns, in order; `ts` is the second of
    /// every table.
    fn shape(self) -> &'static [Column] {
        use Column::{I8, Text, Texts, U8, U32, U64};
        match self {
            Table::Events => &[
                Text, U32, Text, U64, Text, Text, Text, Text, Text, Text, Text, Text, Text, Text,
                Text, Text, I8, U64, Texts, Texts,
            ],
            Table::EmailOpens => &[Text, U32, U64, U8, Text, Text, U64],
            Table::EmailClicks => &[Text, U32, U64, Text, Text, U8, U8, U64],
        }
    }

    /// Which column holds the row's random id (`event_id`, `open_id`,
    /// `click_id`).
    fn id_column(self) -> usize {
        match self {
            Table::Events => 17,
            Table::EmailOpens => 6,
            Table::EmailClicks => 7,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Column {
    Text,
    Texts,
    U8,
    I8,
    U32,
    U64,
}

/// A row type and its table, and how it is written and read as `RowBinary`.
pub trait TableRow: Sized {
    const TABLE: Table;
    /// The row's `ts` and random id, which a batch keeps beside its bytes.
    fn key(&self) -> (u32, u64);
    fn encode(&self, out: &mut Out<'_>);
    fn decode(input: &mut In<'_>) -> Option<Self>;
}

impl TableRow for EventRow {
    const TABLE: Table = Table::Events;

    fn key(&self) -> (u32, u64) {
        (self.ts, self.event_id)
    }

    fn encode(&self, out: &mut Out<'_>) {
        out.text(&self.site);
        out.bytes(&self.ts.to_le_bytes());
        out.text(&self.name);
        out.bytes(&self.visitor_id.to_le_bytes());
        for text in [
            &self.path,
            &self.referrer_host,
            &self.utm_source,
            &self.utm_medium,
            &self.utm_campaign,
            &self.utm_term,
            &self.utm_content,
            &self.country,
            &self.region,
            &self.city,
            &self.browser,
            &self.os,
        ] {
            out.text(text);
        }
        out.bytes(&self.device.to_le_bytes());
        out.bytes(&self.event_id.to_le_bytes());
        out.texts(&self.prop_keys);
        out.texts(&self.prop_values);
    }

    fn decode(input: &mut In<'_>) -> Option<EventRow> {
        Some(EventRow {
            site: input.text()?,
            ts: input.u32()?,
            name: input.text()?,
            visitor_id: input.u64()?,
            path: input.text()?,
            referrer_host: input.text()?,
            utm_source: input.text()?,
            utm_medium: input.text()?,
            utm_campaign: input.text()?,
            utm_term: input.text()?,
            utm_content: input.text()?,
            country: input.text()?,
            region: input.text()?,
            city: input.text()?,
            browser: input.text()?,
            os: input.text()?,
            device: i8::from_le_bytes(input.array()?),
            event_id: input.u64()?,
            prop_keys: input.texts()?,
            prop_values: input.texts()?,
        })
    }
}

impl TableRow for OpenRow {
    const TABLE: Table = Table::EmailOpens;

    fn key(&self) -> (u32, u64) {
        (self.ts, self.open_id)
    }

    fn encode(&self, out: &mut Out<'_>) {
        out.text(&self.campaign);
        out.bytes(&self.ts.to_le_bytes());
        out.bytes(&self.recipient_id.to_le_bytes());
        out.bytes(&[self.proxied]);
        out.text(&self.country);
        out.text(&self.client);
        out.bytes(&self.open_id.to_le_bytes());
    }

    fn decode(input: &mut In<'_>) -> Option<OpenRow> {
        Some(OpenRow {
            campaign: input.text()?,
            ts: input.u32()?,
            recipient_id: input.u64()?,
            proxied: u8::from_le_bytes(input.array()?),
            country: input.text()?,
            client: input.text()?,
            open_id: input.u64()?,
        })
    }
}

impl TableRow for ClickRow {
    const TABLE: Table = Table::EmailClicks;

    fn key(&self) -> (u32, u64) {
        (self.ts, self.click_id)
    }

    fn encode(&self, out: &mut Out<'_>) {
        out.text(&self.campaign);
        out.bytes(&self.ts.to_le_bytes());
        out.bytes(&self.recipient_id.to_le_bytes());
        out.text(&self.link_host);
        out.text(&self.link_path);
        out.bytes(&[self.scanner, self.honeypot]);
        out.bytes(&self.click_id.to_le_bytes());
    }

    fn decode(input: &mut In<'_>) -> Option<ClickRow> {
        Some(ClickRow {
            campaign: input.text()?,
            ts: input.u32()?,
            recipient_id: input.u64()?,
            link_host: input.text()?,
            link_path: input.text()?,
            scanner: u8::from_le_bytes(input.array()?),
            honeypot: u8::from_le_bytes(input.array()?),
            click_id: input.u64()?,
        })
    }
}

impl Record {
    /// Writes the record's spool payload (its table's tag, then its row) at
    /// the start of `buf`; returns its length, or `None` when it does not
    /// fit (what was written of it is then garbage to the caller).
    pub fn encode_spooled(&self, buf: &mut [u8]) -> Option<usize> {
        let mut out = Out::new(buf);
        match self {
            Record::Event(row) => out.tagged(row),
            Record::Open(row) => out.tagged(row),
            Record::Click(row) => out.tagged(row),
        }
        out.finish()
    }
}

/// Writes into a fixed slice. Past its end it writes nothing more and
/// remembers that the row did not fit, so encoding is one pass with one
/// check at the end.
pub struct Out<'a> {
    buf: &'a mut [u8],
    at: usize,
    fits: bool,
}

impl<'a> Out<'a> {
    fn new(buf: &'a mut [u8]) -> Out<'a> {
        Out {
            buf,
            at: 0,
            fits: true,
        }
    }

    fn tagged<T: TableRow>(&mut self, row: &T) {
        self.bytes(&[T::TABLE.tag()]);
        row.encode(self);
    }

    fn finish(self) -> Option<usize> {
        self.fits.then_some(self.at)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        let end = self.at + bytes.len();
        match self.buf.get_mut(self.at..end) {
            Some(room) if self.fits => {
                room.copy_from_slice(bytes);
                self.at = end;
            }
            _ => self.fits = false,
        }
    }

    fn length(&mut self, length: usize) {
        let mut rest = length as u64;
        while rest >= 0x80 {
            self.bytes(&[(rest as u8) | 0x80]);
            rest >>= 7;
        }
        self.bytes(&[rest as u8]);
    }

    fn text(&mut self, text: &str) {
        self.length(text.len());
        self.bytes(text.as_bytes());
    }

    fn texts(&mut self, texts: &[String]) {
        self.length(texts.len());
        for text in texts {
            self.text(text);
        }
    }
}

/// Reads a row's columns from the start of a slice; `None` past its end or
/// at a string that is not UTF-8.
pub struct In<'a> {
    buf: &'a [u8],
}

impl<'a> In<'a> {
    fn take(&mut self, count: usize) -> Option<&'a [u8]> {
        if count > self.buf.len() {
            return None;
        }
        let (taken, rest) = self.buf.split_at(count);
        self.buf = rest;
        Some(taken)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }

    fn length(&mut self) -> Option<usize> {
        let mut length = 0u64;
        for shift in (0..64).step_by(7) {
            let [byte] = self.array()?;
            length |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return usize::try_from(length).ok();
            }
        }
        None
    }

    fn str(&mut self) -> Option<&'a str> {
        let length = self.length()?;
        std::str::from_utf8(self.take(length)?).ok()
    }

    fn text(&mut self) -> Option<String> {
        self.str().map(str::to_owned)
    }

    fn texts(&mut self) -> Option<Vec<String>> {
        let count = self.length()?;
        // Every string takes at least a byte: a count past that is damage,
        // not a reason to reserve memory.
        if count > self.buf.len() {
            return None;
        }
        (0..count).map(|_| self.text()).collect()
    }

    /// Walks one whole row of `table` without keeping its strings; returns
    /// its time and id.
    fn walk(&mut self, table: Table) -> Option<(u32, u64)> {
        let (mut ts, mut id) = (None, None);
        for (index, column) in table.shape().iter().enumerate() {
            match column {
                Column::Text => {
                    self.str()?;
                }
                Column::Texts => {
                    for _ in 0..self.length()? {
                        self.str()?;
                    }
                }
                Column::U8 | Column::I8 => {
                    self.take(1)?;
                }
                Column::U32 => {
                    let value = self.u32()?;
                    if index == 1 {
                        ts = Some(value);
                    }
                }
                Column::U64 => {
                    let value = self.u64()?;
                    if index == table.id_column() {
                        id = Some(value);
                    }
                }
            }
        }
        Some((ts?, id?))
    }
}

/// A spool payload that is no row: damage the checksum did not catch, or a
/// layout no version wrote.
#[derive(Debug, PartialEq, Eq)]
pub struct Unreadable;

/// A batch's rows, encoded, by table, each row's time and id beside it (for
/// the shipper's check of what ClickHouse already holds).
#[derive(Debug, Default)]
pub struct EncodedRows {
    tables: [TableRows; 3],
}

/// One table's rows, back to back as one `RowBinary` body.
#[derive(Debug, Default)]
pub struct TableRows {
    bytes: Vec<u8>,
    rows: Vec<RowKey>,
}

#[derive(Debug, Clone, Copy)]
struct RowKey {
    ts: u32,
    id: u64,
    /// Where the row's bytes end in `bytes`.
    end: usize,
}

impl EncodedRows {
    /// Adds the row a spool payload holds: a tagged row as it is, after
    /// walking it whole; a record spooled by an earlier version (postcard)
    /// encoded anew.
    pub fn push_spooled(&mut self, payload: &[u8]) -> Result<(), Unreadable> {
        let Some((&tag, row)) = payload.split_first() else {
            return Err(Unreadable);
        };
        let Some(table) = Table::tagged(tag) else {
            let record = postcard::from_bytes::<Record>(payload).map_err(|_| Unreadable)?;
            self.push(&record);
            return Ok(());
        };
        let mut input = In { buf: row };
        match input.walk(table) {
            Some((ts, id)) if input.buf.is_empty() => {
                self.tables[table.index()].push_bytes(row, ts, id);
                Ok(())
            }
            _ => Err(Unreadable),
        }
    }

    /// Adds a record, encoding it.
    pub fn push(&mut self, record: &Record) {
        match record {
            Record::Event(row) => self.rows_of_mut::<EventRow>().push_row(row),
            Record::Open(row) => self.rows_of_mut::<OpenRow>().push_row(row),
            Record::Click(row) => self.rows_of_mut::<ClickRow>().push_row(row),
        }
    }

    fn rows_of<T: TableRow>(&self) -> &TableRows {
        &self.tables[T::TABLE.index()]
    }

    fn rows_of_mut<T: TableRow>(&mut self) -> &mut TableRows {
        &mut self.tables[T::TABLE.index()]
    }

    pub fn len(&self) -> usize {
        self.tables.iter().map(TableRows::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn by_table(&mut self) -> impl Iterator<Item = (Table, &mut TableRows)> {
        TABLES.into_iter().zip(self.tables.iter_mut())
    }

    /// Every row decoded, in table order (for tests and tools; the shipper
    /// sends the bytes).
    pub fn decode_all(&self) -> Option<Vec<Record>> {
        let mut records = Vec::with_capacity(self.len());
        let events = self.rows_of::<EventRow>().decode::<EventRow>()?;
        records.extend(events.into_iter().map(Record::Event));
        let opens = self.rows_of::<OpenRow>().decode::<OpenRow>()?;
        records.extend(opens.into_iter().map(Record::Open));
        let clicks = self.rows_of::<ClickRow>().decode::<ClickRow>()?;
        records.extend(clicks.into_iter().map(Record::Click));
        Some(records)
    }
}

impl TableRows {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The earliest and latest `ts` of the rows.
    pub fn time_range(&self) -> Option<(u32, u32)> {
        self.rows.iter().fold(None, |range, row| match range {
            None => Some((row.ts, row.ts)),
            Some((low, high)) => Some((low.min(row.ts), high.max(row.ts))),
        })
    }

    /// Keeps the rows whose id `keep` accepts, in order.
    pub fn retain_ids(&mut self, mut keep: impl FnMut(u64) -> bool) {
        let (mut start, mut write) = (0, 0);
        let mut kept = Vec::with_capacity(self.rows.len());
        for row in &self.rows {
            if keep(row.id) {
                let length = row.end - start;
                self.bytes.copy_within(start..row.end, write);
                write += length;
                kept.push(RowKey { end: write, ..*row });
            }
            start = row.end;
        }
        self.bytes.truncate(write);
        self.rows = kept;
    }

    /// The rows' bytes in pieces of about [`CHUNK_BYTES`], cut between rows.
    pub fn chunks(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        let mut rows = self.rows.iter().peekable();
        std::iter::from_fn(move || {
            let first = rows.next()?;
            let mut end = first.end;
            while let Some(row) = rows.next_if(|row| row.end - start <= CHUNK_BYTES) {
                end = row.end;
            }
            let chunk = &self.bytes[start..end];
            start = end;
            Some(chunk)
        })
    }

    /// The rows decoded as `T`; `None` if they are not `T`'s table's rows.
    pub fn decode<T: TableRow>(&self) -> Option<Vec<T>> {
        let mut input = In { buf: &self.bytes };
        let rows = (0..self.rows.len())
            .map(|_| T::decode(&mut input))
            .collect::<Option<Vec<T>>>()?;
        input.buf.is_empty().then_some(rows)
    }

    pub fn clear(&mut self) {
        self.bytes.clear();
        self.rows.clear();
    }

    fn push_bytes(&mut self, row: &[u8], ts: u32, id: u64) {
        self.bytes.extend_from_slice(row);
        self.keep(ts, id);
    }

    fn push_row<T: TableRow>(&mut self, row: &T) {
        let start = self.bytes.len();
        let mut room = 256;
        loop {
            self.bytes.resize(start + room, 0);
            let mut out = Out::new(&mut self.bytes[start..]);
            row.encode(&mut out);
            if let Some(length) = out.finish() {
                self.bytes.truncate(start + length);
                break;
            }
            room *= 2;
        }
        let (ts, id) = row.key();
        self.keep(ts, id);
    }

    /// Records the row that ends where the bytes now do.
    fn keep(&mut self, ts: u32, id: u64) {
        self.rows.push(RowKey {
            ts,
            id,
            end: self.bytes.len(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: u64) -> EventRow {
        EventRow {
            site: "optimumabq.com".into(),
            ts: 1_700_000_000 + id as u32,
            name: "pageview".into(),
            visitor_id: 9,
            path: "/tour".into(),
            referrer_host: "google.com".into(),
            utm_source: String::new(),
            utm_medium: String::new(),
            utm_campaign: "nov".into(),
            utm_term: String::new(),
            utm_content: String::new(),
            country: "US".into(),
            region: "US-NM".into(),
            city: "Albuquerque".into(),
            browser: "Firefox".into(),
            os: "Linux".into(),
            device: -1,
            event_id: id,
            prop_keys: vec!["plan".into()],
            prop_values: vec!["x".repeat(200)],
        }
    }

    fn open(id: u64) -> OpenRow {
        OpenRow {
            campaign: "nov".into(),
            ts: 7,
            recipient_id: 2,
            proxied: 1,
            country: "US".into(),
            client: "Gmail".into(),
            open_id: id,
        }
    }

    fn click(id: u64) -> ClickRow {
        ClickRow {
            campaign: "nov".into(),
            ts: 8,
            recipient_id: 2,
            link_host: "optimumabq.com".into(),
            link_path: "/tour".into(),
            scanner: 4,
            honeypot: 1,
            click_id: id,
        }
    }

    fn spooled(record: &Record) -> Vec<u8> {
        let mut buf = vec![0; 4096];
        let length = record.encode_spooled(&mut buf).expect("fits");
        buf.truncate(length);
        buf
    }

    #[test]
    fn an_open_is_its_columns_in_order() {
        let bytes = spooled(&Record::Open(open(3)));
        let mut expected = vec![0x41, 3, b'n', b'o', b'v', 7, 0, 0, 0];
        expected.extend(2u64.to_le_bytes());
        expected.push(1);
        expected.extend([2, b'U', b'S', 5]);
        expected.extend(b"Gmail");
        expected.extend(3u64.to_le_bytes());
        assert_eq!(bytes, expected);
    }

    #[test]
    fn a_long_string_takes_a_two_byte_length() {
        let row = event(1);
        let bytes = spooled(&Record::Event(row));
        let value = [200 | 0x80, 1];
        let at = bytes.len() - 200 - 2;
        assert_eq!(bytes[at..at + 2], value, "200 is 0xC8 0x01 in LEB128");
    }

    #[test]
    fn spooled_records_read_back_as_they_were() {
        let records = [
            Record::Event(event(1)),
            Record::Open(open(2)),
            Record::Click(click(3)),
            Record::Event(event(4)),
        ];
        let mut rows = EncodedRows::default();
        for record in &records {
            rows.push_spooled(&spooled(record)).unwrap();
        }
        assert_eq!(rows.len(), 4);
        let decoded = rows.decode_all().unwrap();
        assert_eq!(
            decoded,
            [
                records[0].clone(),
                records[3].clone(),
                records[1].clone(),
                records[2].clone()
            ]
        );
        let mut pushed = EncodedRows::default();
        for record in &records {
            pushed.push(record);
        }
        for ((_, a), (_, b)) in rows.by_table().zip(pushed.by_table()) {
            assert_eq!(a.bytes, b.bytes, "encoding in place or into a batch agree");
            let keys = |t: &TableRows| {
                t.rows
                    .iter()
                    .map(|k| (k.ts, k.id, k.end))
                    .collect::<Vec<_>>()
            };
            assert_eq!(keys(a), keys(b));
        }
    }

    #[test]
    fn the_walk_finds_time_and_id() {
        let mut rows = EncodedRows::default();
        rows.push(&Record::Event(event(11)));
        rows.push(&Record::Open(open(12)));
        rows.push(&Record::Click(click(13)));
        let keys: Vec<_> = rows
            .by_table()
            .map(|(table, t)| (table, t.rows[0].ts, t.rows[0].id))
            .collect();
        assert_eq!(
            keys,
            [
                (Table::Events, 1_700_000_011, 11),
                (Table::EmailOpens, 7, 12),
                (Table::EmailClicks, 8, 13)
            ]
        );
    }

    #[test]
    fn a_record_that_does_not_fit_says_so() {
        let record = Record::Event(event(1));
        let length = spooled(&record).len();
        let mut buf = vec![0; length];
        assert_eq!(record.encode_spooled(&mut buf), Some(length));
        assert_eq!(record.encode_spooled(&mut buf[..length - 1]), None);
        assert_eq!(record.encode_spooled(&mut []), None);
    }

    #[test]
    fn a_cut_or_padded_or_untagged_payload_is_unreadable() {
        let whole = spooled(&Record::Click(click(1)));
        let mut rows = EncodedRows::default();
        for cut in 0..whole.len() {
            assert_eq!(rows.push_spooled(&whole[..cut]), Err(Unreadable), "{cut}");
        }
        let mut padded = whole.clone();
        padded.push(0);
        assert_eq!(rows.push_spooled(&padded), Err(Unreadable));
        let mut retagged = whole.clone();
        retagged[0] = 0x43;
        assert_eq!(rows.push_spooled(&retagged), Err(Unreadable));
        let mut not_utf8 = whole;
        not_utf8[2] = 0xff;
        assert_eq!(rows.push_spooled(&not_utf8), Err(Unreadable));
        assert!(rows.is_empty());
    }

    #[test]
    fn a_record_spooled_by_an_earlier_version_is_encoded_anew() {
        // Variant 3 (one varint byte), then the event as postcard wrote it.
        let row = event(5);
        let mut payload = vec![3];
        payload.extend(postcard::to_stdvec(&row).unwrap());
        let mut rows = EncodedRows::default();
        rows.push_spooled(&payload).unwrap();
        assert_eq!(rows.decode_all().unwrap(), [Record::Event(row)]);
    }

    #[test]
    fn retaining_ids_keeps_the_others_bytes_whole() {
        let mut rows = EncodedRows::default();
        for id in 1..=6 {
            rows.push(&Record::Event(event(id)));
        }
        let (_, events) = rows.by_table().next().unwrap();
        events.retain_ids(|id| id % 2 == 0);
        let ids: Vec<u64> = events
            .decode::<EventRow>()
            .unwrap()
            .iter()
            .map(|row| row.event_id)
            .collect();
        assert_eq!(ids, [2, 4, 6]);
        assert_eq!(events.time_range(), Some((1_700_000_002, 1_700_000_006)));
        events.retain_ids(|_| false);
        assert!(events.is_empty() && events.bytes.is_empty());
        assert_eq!(events.time_range(), None);
    }

    #[test]
    fn chunks_are_cut_between_rows_and_hold_every_byte() {
        let mut rows = EncodedRows::default();
        let mut wide = event(0);
        wide.prop_values = vec!["y".repeat(40_000)];
        for id in 0..30 {
            rows.push(&Record::Event(EventRow {
                event_id: id,
                ..wide.clone()
            }));
        }
        let (_, events) = rows.by_table().next().unwrap();
        let chunks: Vec<&[u8]> = events.chunks().collect();
        assert!(chunks.len() > 1);
        assert!(chunks.iter().all(|c| c.len() <= CHUNK_BYTES));
        assert_eq!(chunks.concat(), events.bytes);
        for chunk in chunks {
            let mut input = In { buf: chunk };
            while !input.buf.is_empty() {
                input.walk(Table::Events).expect("a chunk holds whole rows");
            }
        }
        assert_eq!(TableRows::default().chunks().count(), 0);
    }

    #[test]
    fn a_row_decodes_only_as_its_own_table() {
        let mut rows = EncodedRows::default();
        rows.push(&Record::Open(open(1)));
        let (_, opens) = rows.by_table().nth(1).unwrap();
        assert!(opens.decode::<EventRow>().is_none());
        assert!(opens.decode::<ClickRow>().is_none());
    }

    #[test]
    fn the_shapes_have_a_column_for_each_field() {
        for table in TABLES {
            assert_eq!(table.shape().len(), table.columns().len(), "{table:?}");
            assert_eq!(table.columns()[1], "ts");
            assert!(table.columns()[table.id_column()].ends_with("_id"));
        }
    }
}
