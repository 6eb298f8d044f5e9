-- Each time a shard's worker process died under it (killed by the kernel for memory, say), one row. A shard
-- that loses its worker on every attempt would otherwise be retried for ever and block its partition; counted
-- here, where every replica that is redelivered the shard sees the losses, it fails its job after a few.
-- One row per attempt (loss_id), so recording the same loss twice counts it once.
CREATE TABLE shard_worker_losses (
    job_id    uuid        NOT NULL,
    shard_no  integer     NOT NULL,
    loss_id   uuid        NOT NULL,
    lost_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, shard_no, loss_id)
);
