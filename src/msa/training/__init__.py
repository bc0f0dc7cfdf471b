"""The train step: one cross-validation driver (`driver`), the two runs it drives (`heads` on
cached features, `finetune` end to end under Accelerate), the network, the lexical model, the
fold models on disk and the live progress."""
