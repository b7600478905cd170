//! Streaming a table a page at a time, by ascending id, for any backend.

use futures::StreamExt;
use futures::stream::BoxStream;

use crate::{StoreError, StoreResult};

/// Streams items fetched a page at a time by ascending id: `fetch(after)` answers the page after
/// that id. Nothing holds the whole table in memory, and no read transaction stays open for the
/// whole run.
pub(crate) fn paged<'a, T, F, Fut>(
    page_size: usize,
    fetch: F,
    id_of: fn(&T) -> i64,
) -> BoxStream<'a, StoreResult<T>>
where
    T: Send + 'a,
    F: Fn(i64) -> Fut + Send + Sync + 'a,
    Fut: std::future::Future<Output = StoreResult<Vec<T>>> + Send + 'a,
{
    let fetch = std::sync::Arc::new(fetch);
    let pages = futures::stream::try_unfold(Some(0_i64), move |after| {
        let fetch = fetch.clone();
        async move {
            let Some(after) = after else { return Ok(None) };
            let page = fetch(after).await?;
            let next = (page.len() == page_size)
                .then(|| page.last().map(id_of))
                .flatten();
            Ok::<_, StoreError>((!page.is_empty()).then_some((page, next)))
        }
    });
    one_at_a_time(pages)
}

/// A stream of pages (or of the error that ended them) as a stream of their items.
pub(crate) fn one_at_a_time<'a, T: Send + 'a>(
    pages: impl futures::Stream<Item = StoreResult<Vec<T>>> + Send + 'a,
) -> BoxStream<'a, StoreResult<T>> {
    pages
        .map(|page| match page {
            Ok(page) => futures::stream::iter(page.into_iter().map(Ok)).left_stream(),
            Err(error) => futures::stream::once(async { Err(error) }).right_stream(),
        })
        .flatten()
        .boxed()
}
