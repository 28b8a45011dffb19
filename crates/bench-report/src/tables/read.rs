//! Reading a cell in each run of the record: the points its templates name, the figure they
//! make in each run that has them all, and what the record lacks for it.

use super::cell::{Aggregate, Cell, Figure, Quantity};
use super::spec::{HandoffMeasure, Value};
use super::templates::fill;
use crate::across_runs::Reading;
use crate::probes::{HANDOFF_FILE, IDLE_SHAPES, REDIS_COMMANDS_FILE};
use crate::record::Record;
use crate::run::{Handoff, IdleWorkers, Point, Run};

/// A cell, with the lines that name what the record lacks for it.
pub struct CellReading {
    /// What the cell shows.
    pub cell: Cell,
    /// Points (or probe results) that no run has.
    pub absent: Vec<String>,
    /// Points that some runs have and others do not.
    pub partial: Vec<String>,
}

impl CellReading {
    /// A cell that lacks nothing.
    pub fn of(cell: Cell) -> CellReading {
        CellReading {
            cell,
            absent: Vec::new(),
            partial: Vec::new(),
        }
    }
}

/// The keys that fill a cell's templates.
pub struct Keys<'a> {
    /// The family's key, for a table made once per key.
    pub each: Option<&'a str>,
    /// The row's key.
    pub row: &'a str,
    /// The key of the row above, for a difference from it.
    pub above: Option<&'a str>,
    /// The column's key, for a column per key found.
    pub col: Option<&'a str>,
}

impl Keys<'_> {
    fn id(&self, template: &str) -> String {
        fill(template, self.each, Some(self.row), self.col)
    }
}

/// A cell, read in each run.
pub fn read_cell(value: Value, record: &Record, keys: &Keys<'_>) -> CellReading {
    let time = |point: &Point| Reading::time(point, point.jobs_per_iteration as f64);
    let figure =
        |quantity, aggregate, ids: Vec<String>, read: &dyn Fn(&[&Point]) -> Option<Reading>| {
            points_in_each_run(record, &ids, quantity, aggregate, read)
        };
    match value {
        Value::PerJob(point) => figure(
            Quantity::Duration,
            Aggregate::Median,
            vec![keys.id(point)],
            &|points| Some(time(points[0])),
        ),
        Value::PerIteration(point) => figure(
            Quantity::Duration,
            Aggregate::Median,
            vec![keys.id(point)],
            &|points| Some(Reading::time(points[0], 1.0)),
        ),
        Value::Fastest(point) => figure(
            Quantity::Duration,
            Aggregate::Lowest,
            vec![keys.id(point)],
            &|points| {
                Some(Reading::exact(
                    points[0].fastest_ns? / points[0].jobs_per_iteration as f64,
                ))
            },
        ),
        Value::Slowest(point) => figure(
            Quantity::Duration,
            Aggregate::Highest,
            vec![keys.id(point)],
            &|points| {
                Some(Reading::exact(
                    points[0].slowest_ns? / points[0].jobs_per_iteration as f64,
                ))
            },
        ),
        Value::Versus { point, baseline } | Value::Ratio { point, baseline } => {
            let (point, baseline) = (keys.id(point), keys.id(baseline));
            if point == baseline {
                return CellReading::of(Cell::Dash);
            }
            let quantity = if matches!(value, Value::Versus { .. }) {
                Quantity::Versus
            } else {
                Quantity::Ratio
            };
            let compared = contender_of(record, &point).zip(contender_of(record, &baseline));
            let mut reading = figure(
                quantity,
                Aggregate::Median,
                vec![point, baseline],
                &|points| Some(time(points[0]).over(time(points[1]))),
            );
            if let Cell::Figure(figure) = &mut reading.cell {
                figure.compared = compared;
            }
            reading
        }
        Value::ChangeFromAbove(point) => {
            let Some(above) = keys.above else {
                return CellReading::of(Cell::Blank);
            };
            let ids = vec![
                keys.id(point),
                fill(point, keys.each, Some(above), keys.col),
            ];
            figure(Quantity::Difference, Aggregate::Median, ids, &|points| {
                Some(time(points[0]).minus(time(points[1])))
            })
        }
        Value::PerSecond(point) => figure(
            Quantity::Count,
            Aggregate::Median,
            vec![keys.id(point)],
            &|points| Some(time(points[0]).inverse(1e9)),
        ),
        Value::ShareOf { point, baseline } => {
            let (point, baseline) = (keys.id(point), keys.id(baseline));
            if point == baseline {
                return CellReading::of(Cell::Dash);
            }
            // A share of the baseline's jobs a second is the baseline's time per job over the
            // point's.
            figure(
                Quantity::Percent,
                Aggregate::Median,
                vec![point, baseline],
                &|points| Some(time(points[1]).over(time(points[0]))),
            )
        }
        Value::Ideal {
            point,
            latency_ns,
            workers,
        } => figure(
            Quantity::Duration,
            Aggregate::Median,
            vec![keys.id(point)],
            &|points| Some(Reading::exact(ideal_ns(points[0], latency_ns, workers))),
        ),
        Value::ShareOfIdeal {
            point,
            latency_ns,
            workers,
        } => figure(
            Quantity::Percent,
            Aggregate::Median,
            vec![keys.id(point)],
            &|points| {
                Some(
                    Reading::exact(ideal_ns(points[0], latency_ns, workers))
                        .over(Reading::time(points[0], 1.0)),
                )
            },
        ),
        Value::Note(notes) => match notes.iter().find(|(key, _)| *key == keys.row) {
            Some((_, note)) => CellReading::of(Cell::Text((*note).to_owned())),
            None => CellReading::of(Cell::Blank),
        },
        Value::PeakMemory => idle_figure(record, keys.row, Quantity::Mebibytes, |idle| {
            idle.peak_rss_mib
        }),
        Value::MemoryPerWorker => idle_figure(record, keys.row, Quantity::Kibibytes, |idle| {
            idle.per_worker_bytes as f64
        }),
        Value::RedisCommands(point) => {
            let id = keys.id(point);
            probe_figure(
                record,
                Quantity::Count,
                &|run| run.redis_commands(&id).map(Reading::exact),
                &format!("the Redis commands per job of {id}"),
                &format!(
                    "target/bench-extra/{REDIS_COMMANDS_FILE}; run scripts/compare-with-go.sh"
                ),
            )
        }
        Value::Handoff { setup, measure } => {
            let id = keys.id(setup);
            let quantity = match measure {
                HandoffMeasure::PerJob => Quantity::Duration,
                HandoffMeasure::VoluntarySwitches | HandoffMeasure::InvoluntarySwitches => {
                    Quantity::Count
                }
            };
            probe_figure(
                record,
                quantity,
                &|run| handoff_reading(run.handoff(&id)?, measure),
                &id,
                &handoff_hint(&id),
            )
        }
        Value::HandoffVersus { setup, baseline } => {
            let (setup, baseline) = (keys.id(setup), keys.id(baseline));
            let per_job =
                |run: &Run, id: &str| handoff_reading(run.handoff(id)?, HandoffMeasure::PerJob);
            let mut reading = probe_figure(
                record,
                Quantity::Versus,
                &|run| Some(per_job(run, &setup)?.over(per_job(run, &baseline)?)),
                &format!("{setup} beside {baseline}"),
                &handoff_hint(&baseline),
            );
            let design = |id: &str| {
                record
                    .runs
                    .iter()
                    .find_map(|run| run.handoff(id))
                    .map(|found| found.design.clone())
            };
            if let Cell::Figure(figure) = &mut reading.cell {
                figure.compared = design(&setup).zip(design(&baseline));
            }
            reading
        }
    }
}

/// A hand-off setup's measure in one run: the median of its repetitions, with their lowest and
/// highest as the run's noise.
fn handoff_reading(setup: &Handoff, measure: HandoffMeasure) -> Option<Reading> {
    let per_thousand_jobs = |count: &u64| 1000.0 * *count as f64 / setup.jobs.max(1) as f64;
    let mut values: Vec<f64> = match measure {
        HandoffMeasure::PerJob => setup.ns_per_job.clone(),
        HandoffMeasure::VoluntarySwitches => setup
            .voluntary_switches
            .iter()
            .map(per_thousand_jobs)
            .collect(),
        HandoffMeasure::InvoluntarySwitches => setup
            .involuntary_switches
            .iter()
            .map(per_thousand_jobs)
            .collect(),
    };
    values.sort_by(f64::total_cmp);
    let (&low, &high) = (values.first()?, values.last()?);
    let middle = values.len() / 2;
    let median = if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    };
    Some(Reading {
        value: median,
        low,
        high,
        samples: None,
    })
}

/// Where a hand-off setup comes from, for the line that names it as missing.
fn handoff_hint(id: &str) -> String {
    let go = if id.contains("go-") {
        "Go not installed? "
    } else {
        ""
    };
    format!("target/bench-extra/{HANDOFF_FILE}; {go}run scripts/compare-with-go.sh")
}

/// A figure of the probes, read in each run that has it by `read`; `name` and `hint` make the
/// line that says it is missing.
fn probe_figure(
    record: &Record,
    quantity: Quantity,
    read: &dyn Fn(&Run) -> Option<Reading>,
    name: &str,
    hint: &str,
) -> CellReading {
    let readings: Vec<Reading> = record.runs.iter().filter_map(read).collect();
    let runs = record.runs.len();
    let mut lacking = CellReading::of(Cell::Dash);
    if readings.is_empty() {
        lacking.absent.push(format!("{name} ({hint})"));
        return lacking;
    }
    if readings.len() < runs {
        let measured = readings.len();
        lacking
            .partial
            .push(format!("{name} (in {measured} of {runs} runs)"));
    }
    lacking.cell = Cell::Figure(Figure {
        quantity,
        aggregate: Aggregate::Median,
        readings,
        compared: None,
    });
    lacking
}

/// The contender a point id names, from whichever run has it.
fn contender_of(record: &Record, id: &str) -> Option<String> {
    record
        .point_in_each_run(id)
        .flatten()
        .next()
        .map(|point| point.contender.clone())
}

/// The time an iteration would take with no overhead at all.
fn ideal_ns(point: &Point, latency_ns: f64, workers: u64) -> f64 {
    point.jobs_per_iteration as f64 * latency_ns / workers as f64
}

/// A figure read in each run that has every one of `ids`: like is compared with like, a ratio's
/// two points always from one run.
fn points_in_each_run(
    record: &Record,
    ids: &[String],
    quantity: Quantity,
    aggregate: Aggregate,
    read: &dyn Fn(&[&Point]) -> Option<Reading>,
) -> CellReading {
    let readings: Vec<Reading> = record
        .runs
        .iter()
        .filter_map(|run| {
            let points: Option<Vec<&Point>> = ids.iter().map(|id| run.point(id)).collect();
            read(&points?)
        })
        .collect();
    let runs = record.runs.len();
    let mut lacking = CellReading::of(Cell::Dash);
    for id in ids {
        let measured = record.point_in_each_run(id).flatten().count();
        if measured == 0 {
            lacking.absent.push(missing_point(id));
        } else if measured < runs {
            lacking
                .partial
                .push(format!("{id} (in {measured} of {runs} runs)"));
        }
    }
    if !readings.is_empty() {
        lacking.cell = Cell::Figure(Figure {
            quantity,
            aggregate,
            readings,
            compared: None,
        });
    }
    lacking
}

/// A figure of the idle-memory probes, for one shape.
fn idle_figure(
    record: &Record,
    shape: &str,
    quantity: Quantity,
    read: fn(&IdleWorkers) -> f64,
) -> CellReading {
    let readings: Vec<Reading> = record
        .runs
        .iter()
        .filter_map(|run| run.idle_workers.iter().find(|idle| idle.shape == shape))
        .map(|idle| Reading::exact(read(idle)))
        .collect();
    let runs = record.runs.len();
    let mut lacking = CellReading::of(Cell::Dash);
    if readings.is_empty() {
        let file = IDLE_SHAPES
            .iter()
            .find(|(name, _)| *name == shape)
            .map_or("", |(_, file)| file);
        let hint = if shape == "goroutines" {
            "Go not installed? run scripts/compare-with-go.sh"
        } else {
            "run scripts/compare-with-go.sh"
        };
        lacking.absent.push(format!(
            "idle memory of {shape} (target/bench-extra/{file}; {hint})"
        ));
        return lacking;
    }
    if readings.len() < runs {
        let measured = readings.len();
        lacking.partial.push(format!(
            "idle memory of {shape} (in {measured} of {runs} runs)"
        ));
    }
    lacking.cell = Cell::Figure(Figure {
        quantity,
        aggregate: Aggregate::Median,
        readings,
        compared: None,
    });
    lacking
}

/// Why a point may be missing, for the line that names it.
pub fn missing_point(id: &str) -> String {
    if id.starts_with("handoff/") {
        return format!("{id} ({})", handoff_hint(id));
    }
    let hint = if id.contains("bullmq") {
        "Node not installed? install node and npm, then run `cargo bench -p stage-6-distributed`"
    } else if id.contains("server-apart") {
        "Go not installed? the server apart is go-reference -http-server: run \
         scripts/compare-with-go.sh"
    } else if id.contains("go-") {
        "Go not installed? run scripts/compare-with-go.sh"
    } else {
        "not measured: run `cargo bench`"
    };
    format!("{id} ({hint})")
}
