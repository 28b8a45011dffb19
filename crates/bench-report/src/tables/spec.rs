//! The table language: a table of the book as data. Its rows are keys (fixed, or found among the
//! record's ids), its columns compute a cell from a row's key, each from the points that a
//! template names (see [`super::templates`]); a column whose header is found makes a column per
//! key found. A table may also be made once per key of its own (`each`): a grid per contender.

/// One table of the book, or a family of them (see [`Each`]).
#[derive(Debug, Clone, Copy)]
pub struct TableSpec {
    /// The file stem under `book/src/record/`; `{each}` is the family's key.
    pub name: &'static str,
    /// What the table shows, for the terminal (a chapter has its own sentence). `{each}` is the
    /// family's key, `{each label}` its short label, `{idle workers}` how many idle workers the
    /// probes started.
    pub title: &'static str,
    /// Made once per key found, or once.
    pub each: Option<Each>,
    /// The header over the row labels; `{idle workers}` as in the title.
    pub corner: &'static str,
    /// Where the rows come from.
    pub rows: Rows,
    /// The columns after the row labels.
    pub columns: &'static [Column],
}

/// A family of tables: one per key.
#[derive(Debug, Clone, Copy)]
pub enum Each {
    /// Every key that fits the template's `{each}` hole, in the order the book introduces the
    /// contenders.
    Found(&'static str),
    /// Every group of the record that no other table shows: a new sweep gets a table without
    /// waiting for one of its own.
    OtherGroup,
}

/// Where a table's rows come from.
#[derive(Debug, Clone, Copy)]
pub enum Rows {
    /// These keys, in this order, each with its label.
    Fixed(&'static [(&'static str, &'static str)]),
    /// Every key that fits the template's `{row}` hole, in natural order (numbers as numbers).
    Found {
        template: &'static str,
        label: fn(&str) -> String,
    },
    /// Every point of a group (`{each}` allowed), fastest first by the median across runs; the
    /// key is the id after the group. A point that ran another number of jobs than most of its
    /// group says so in its label.
    ByTime {
        group: &'static str,
        label: fn(&str) -> String,
    },
}

/// A column, or a column per key found.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// The column's header.
    pub header: Header,
    /// Only for the rows whose key starts with one of these (like against like); the others
    /// show a dash.
    pub only: Option<&'static [&'static str]>,
    /// What a cell shows.
    pub value: Value,
}

/// A column's header.
#[derive(Debug, Clone, Copy)]
pub enum Header {
    /// One column under this header.
    Fixed(&'static str),
    /// A column per key that fits the `{col}` hole of the value's template, once each row's key
    /// is filled in, labelled by the function.
    Found(fn(&str) -> String),
}

/// What a cell shows, computed in each run from that run's points alone; each template names a
/// point once `{each}`, `{row}` and `{col}` are filled in.
#[derive(Debug, Clone, Copy)]
pub enum Value {
    /// The median time per job.
    PerJob(&'static str),
    /// The median time per iteration (all of an iteration's jobs).
    PerIteration(&'static str),
    /// The fastest sample per job: the fastest of every run.
    Fastest(&'static str),
    /// The slowest sample per job: the slowest of every run.
    Slowest(&'static str),
    /// How many times faster or slower than `baseline`, per job.
    Versus {
        point: &'static str,
        baseline: &'static str,
    },
    /// The time per job over `baseline`'s, as a plain number.
    Ratio {
        point: &'static str,
        baseline: &'static str,
    },
    /// The difference per job from the row above.
    ChangeFromAbove(&'static str),
    /// Jobs (requests) a second.
    PerSecond(&'static str),
    /// The point's jobs a second as a share of `baseline`'s: how close it comes to a ceiling
    /// measured in the same run.
    ShareOf {
        point: &'static str,
        baseline: &'static str,
    },
    /// The time an iteration would take if every job took `latency_ns` and `workers` of them ran
    /// at once, with no overhead: not measured, fixed by the bench.
    Ideal {
        point: &'static str,
        latency_ns: f64,
        workers: u64,
    },
    /// The ideal time as a share of the median.
    ShareOfIdeal {
        point: &'static str,
        latency_ns: f64,
        workers: u64,
    },
    /// The row's note, by key; a row without one has an empty cell.
    Note(&'static [(&'static str, &'static str)]),
    /// The peak memory of the idle workers of the row's shape.
    PeakMemory,
    /// The memory per idle worker of the row's shape.
    MemoryPerWorker,
    /// The Redis commands per job that stage 6's bench counted while the point drained its jobs.
    RedisCommands(&'static str),
    /// A measure of a hand-off probe's setup; the template names the setup's id
    /// ([`crate::run::Handoff::id`]), and each run's figure is the median of its repetitions.
    Handoff {
        setup: &'static str,
        measure: HandoffMeasure,
    },
    /// How many times faster or slower than `baseline` a hand-off setup is, per job, within each
    /// run.
    HandoffVersus {
        setup: &'static str,
        baseline: &'static str,
    },
}

/// What a hand-off cell shows of its setup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoffMeasure {
    /// The time per job.
    PerJob,
    /// Voluntary context switches per 1 000 jobs: a thread blocked and gave up its core.
    VoluntarySwitches,
    /// Involuntary context switches per 1 000 jobs: the kernel took a core from a thread.
    InvoluntarySwitches,
}

impl Value {
    /// The templates of the points the value reads, its own point first.
    pub fn templates(&self) -> Vec<&'static str> {
        match *self {
            Value::PerJob(point)
            | Value::PerIteration(point)
            | Value::Fastest(point)
            | Value::Slowest(point)
            | Value::ChangeFromAbove(point)
            | Value::PerSecond(point)
            | Value::Ideal { point, .. }
            | Value::ShareOfIdeal { point, .. }
            | Value::RedisCommands(point)
            | Value::Handoff { setup: point, .. } => vec![point],
            Value::Versus { point, baseline }
            | Value::Ratio { point, baseline }
            | Value::ShareOf { point, baseline }
            | Value::HandoffVersus {
                setup: point,
                baseline,
            } => vec![point, baseline],
            Value::Note(_) | Value::PeakMemory | Value::MemoryPerWorker => Vec::new(),
        }
    }
}

impl TableSpec {
    /// The groups this table reads: what makes a group one that a table shows.
    pub fn groups(&self) -> Vec<&'static str> {
        let mut templates: Vec<&'static str> = self
            .columns
            .iter()
            .flat_map(|column| column.value.templates())
            .collect();
        match self.rows {
            Rows::Found { template, .. } => templates.push(template),
            Rows::ByTime { group, .. } => templates.push(group),
            Rows::Fixed(_) => {}
        }
        if let Some(Each::Found(template)) = self.each {
            templates.push(template);
        }
        templates
            .into_iter()
            .filter_map(|template| template.split('/').next())
            .filter(|group| !group.contains('{'))
            .collect()
    }
}
