//! One worker pool for disk- and CPU-bound work over a list, such as hashing every pack file when
//! publishing and when verifying: one thread per core takes the next item from a shared queue,
//! heaviest first, so the last seconds are not spent on one big file alone.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `work` applied to every item on all cores, items started in order of `weight` (heaviest
/// first, ties in the order given); the results come back in the order of `items`.
pub fn map<T: Sync, R: Send>(
    items: &[T],
    weight: impl Fn(&T) -> u64,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(weight(&items[i])));
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    // A worker that panics makes the scope panic too: no result is ever silently missing.
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some(&index) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let result = work(&items[index]);
                    *results[index].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
                }
            });
        }
    });
    results
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every item was worked on")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_the_order_given() {
        let items: Vec<u64> = (0..100).collect();
        assert_eq!(
            map(&items, |n| *n % 7, |n| n * 2),
            (0..100).map(|n| n * 2).collect::<Vec<_>>()
        );
        assert!(map(&[] as &[u64], |_| 0, |n| *n).is_empty());
    }

    #[test]
    fn every_item_is_worked_on_once() {
        let calls = AtomicUsize::new(0);
        let items = vec![3u64; 50];
        map(&items, |_| 0, |_| calls.fetch_add(1, Ordering::Relaxed));
        assert_eq!(calls.into_inner(), 50);
    }
}
