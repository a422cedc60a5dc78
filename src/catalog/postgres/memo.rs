//! What searches read of each collection besides its items (the search
//! histograms, the property names and types), kept in memory between
//! searches and read again once the collection has changed: every write of
//! a collection or of its items moves its `updated`, which each search reads
//! anyway with the visible collections, so no instance answers from what it
//! read before another instance's write.

use super::CollectionMeta;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Values of type `T` by collection, each as read when the collection's
/// `updated` was the one kept beside it.
#[derive(Debug)]
pub(super) struct PerCollection<T> {
    entries: Mutex<HashMap<String, (i64, Arc<T>)>>,
}

impl<T> Default for PerCollection<T> {
    fn default() -> Self {
        PerCollection {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: Default> PerCollection<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (i64, Arc<T>)>> {
        // A panic elsewhere while holding the lock leaves whole entries.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The collections whose values must be read (again).
    pub fn stale(&self, collections: &[&CollectionMeta]) -> Vec<String> {
        let entries = self.lock();
        collections
            .iter()
            .filter(|c| entries.get(&c.id).is_none_or(|(u, _)| *u != c.updated))
            .map(|c| c.id.clone())
            .collect()
    }

    /// Keeps what was read for the `stale` collections (a collection
    /// missing from `fresh` has the default value: nothing stored).
    pub fn store(
        &self,
        collections: &[&CollectionMeta],
        stale: &[String],
        mut fresh: HashMap<String, T>,
    ) {
        let mut entries = self.lock();
        for c in collections.iter().filter(|c| stale.contains(&c.id)) {
            let value = fresh.remove(&c.id).unwrap_or_default();
            entries.insert(c.id.clone(), (c.updated, Arc::new(value)));
        }
    }

    /// The values of the collections, in their order (after `store`).
    pub fn get(&self, collections: &[&CollectionMeta]) -> Vec<Arc<T>> {
        let entries = self.lock();
        collections
            .iter()
            .map(|c| {
                entries
                    .get(&c.id)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(id: &str, updated: i64) -> CollectionMeta {
        CollectionMeta {
            id: id.into(),
            max_before: 0,
            max_after: 0,
            item_count: 0,
            updated,
        }
    }

    #[test]
    fn a_collection_is_read_again_once_it_has_changed() {
        let memo: PerCollection<Vec<i32>> = PerCollection::default();
        let (a, b) = (meta("a", 1), meta("b", 1));
        let both = [&a, &b];
        assert_eq!(memo.stale(&both), ["a", "b"]);
        let fresh = HashMap::from([("a".to_string(), vec![1])]);
        memo.store(&both, &["a".into(), "b".into()], fresh);
        assert!(memo.stale(&both).is_empty());
        let got = memo.get(&both);
        assert_eq!((got[0].as_slice(), got[1].as_slice()), (&[1][..], &[][..]));
        let b2 = meta("b", 2);
        assert_eq!(memo.stale(&[&a, &b2]), ["b"]);
    }
}
