//! One thread lists the processes for every run. A run asks at each task start (ansible's
//! workers come and go with tasks and must be seen while they still descend from the run); with
//! 64 runs starting tasks, a /proc scan per ask was fleetdeck's largest cost (profiled: a fifth
//! of its CPU at 10,000 short runs). Here the asks that arrive together share one scan, and
//! scans are at least `MIN_GAP` apart, so the cost follows the clock, not the number of runs.

use super::{Tree, all_processes};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// At most one scan per this long: short against a task (seconds), long against a scan (ms).
const MIN_GAP: Duration = Duration::from_millis(50);

struct Ask {
    root: i32,
    reply: oneshot::Sender<Tree>,
}

fn asks() -> &'static mpsc::Sender<Ask> {
    static SCANNER: OnceLock<mpsc::Sender<Ask>> = OnceLock::new();
    SCANNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Ask>();
        std::thread::Builder::new()
            .name("proctree".into())
            .spawn(move || serve(rx))
            .expect("starting the process-tree thread");
        tx
    })
}

fn serve(rx: mpsc::Receiver<Ask>) {
    let mut last_scan: Option<Instant> = None;
    while let Ok(first) = rx.recv() {
        if let Some(wait) = last_scan.and_then(|at| MIN_GAP.checked_sub(at.elapsed())) {
            std::thread::sleep(wait);
        }
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        let table = all_processes();
        last_scan = Some(Instant::now());
        for ask in batch {
            // A run that stopped waiting needs no answer.
            let _ = ask.reply.send(Tree::from_table(ask.root, &table));
        }
    }
}

/// What descends from `root`, from the next shared scan (at most `MIN_GAP` away).
pub async fn descendants_soon(root: i32) -> Tree {
    let (reply, answer) = oneshot::channel();
    if asks().send(Ask { root, reply }).is_err() {
        return Tree::of(root);
    }
    match answer.await {
        Ok(tree) => tree,
        Err(_) => Tree::of(root),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn asks_made_together_are_answered_from_one_scan_each_with_its_own_tree() {
        let mut children: Vec<std::process::Child> = (0..3)
            .map(|_| {
                std::process::Command::new("sleep")
                    .arg("30")
                    .spawn()
                    .unwrap()
            })
            .collect();
        let me = std::process::id() as i32;
        let (mine, of_child) = tokio::join!(
            descendants_soon(me),
            descendants_soon(children[0].id() as i32)
        );
        for child in &children {
            assert!(mine.pids.contains(&(child.id() as i32)), "{mine:?}");
        }
        assert!(
            of_child.pids.is_empty(),
            "sleep has no children: {of_child:?}"
        );
        for child in &mut children {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}
