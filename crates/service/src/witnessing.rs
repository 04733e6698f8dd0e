//! The cosigning task of `custos serve` (issue 14, part 2): once a second, a round of
//! [`crate::cosigning::Witnesses::round`] on the node's newest checkpoint. Apart from
//! `cosigning.rs` so that the node may hold its witnesses without that module knowing the node.

use std::sync::Arc;

use jiff::Timestamp;

use crate::cosigning::COSIGN_INTERVAL;
use crate::node::Node;

impl Node {
    /// Asks the witnesses for cosignatures forever, once a second (`custos serve` spawns it
    /// beside the scheduler). Does nothing without witnesses. Never touches the writer.
    pub async fn run_cosigning(self: Arc<Self>) {
        if self.witnesses.is_empty() {
            return;
        }
        loop {
            self.cosign_round().await;
            tokio::time::sleep(COSIGN_INTERVAL).await;
        }
    }

    /// One round on this node's newest checkpoint, at the wall clock's time.
    pub async fn cosign_round(&self) {
        // Other processes of the node may have written (and had cosigned) more than this one
        // has taken in yet.
        let database_size = match self.store.log_size().await {
            Ok(n) => n,
            Err(_) => self.log.tree_size(),
        };
        self.witnesses
            .round_beside(&self.dir, &self.log, Timestamp::now(), database_size)
            .await;
    }
}
