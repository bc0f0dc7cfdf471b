"""Stage featurize: the pretrained encoders over every usable pair, cached (and the states entering
the text layers that train fine-tunes). Under a launch of several processes (params `launch`)
each encodes its share of the batches and the main process writes the cache. Under
train.regime finetune, which encodes the raw pairs itself, only a record saying so."""

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
    if p.train.regime == "finetune":
        from msa.features import extract, store

        store.save_record(args.out, extract.encoder_identity(p.featurize))
        print(f"featurize: nothing to encode under train.regime finetune (train reads the raw "
              f"pairs); {args.out} records the encoders")
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
                              device=where, shares=shares)
    if shares.is_main:
        store.save(cache, args.out)

if __name__ == "__main__":
    main()
