"""Stage featurize: the pretrained encoders over every usable pair, cached (and the states
entering the text layers that train fine-tunes), where train's regime reads cached features
(msa.training.regimes); under a launch of several processes (params `launch`) each encodes its
share of the batches and the main process writes the cache. Under a regime that encodes the
raw pairs itself (finetune), only a record saying so."""

import argparse

from msa import params
from msa.errors import stage_errors


@stage_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    p = params.load()
    from msa.training import regimes

    if not regimes.registered(p.train.regime).caches_features:
        from msa.features import extract, store

        store.save_record(args.out, extract.encoder_identity(p.featurize), p.train.regime,
                          "none: train encodes the raw pairs")
        print(f"featurize: nothing to encode under train.regime {p.train.regime} (train reads "
              f"the raw pairs); {args.out} records the encoders")
        return
    from msa import launch

    launch.relaunch_if_spread(p.launch)
    # Torch and the encoders load after the params check, so a refused param fails at once.
    from msa import device, parallel, precision
    from msa.data import prepared
    from msa.features import extract, store

    pairs = prepared.read(args.manifest)
    where = device.resolve(p.device)
    shares = parallel.Shares.of_this_process()
    cache = extract.featurize(pairs, p.featurize, p.augment, precision.resolve(p.precision, where),
                              device=where, shares=shares, top_layers=p.train.cached_text_layers)
    if shares.is_main:
        store.save(cache, args.out)


if __name__ == "__main__":
    main()
