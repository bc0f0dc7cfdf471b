"""Stage prepare: validate and decode every pair; write the manifest and the data report."""

import argparse

from msa import params
from msa.data import posts, prepared, reading
from msa.errors import stage_errors


@stage_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", required=True, help="the data folder (data.root)")
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--report", required=True)
    args = parser.parse_args()
    layout = params.load().data
    pairs, report = reading.prepare(args.root, layout)
    prepared.write(pairs, args.manifest)
    posts.write_report(report, args.report)
    print(f"prepare: {report['guids']['usable']} usable pairs of {report['guids']['listed']} "
          f"listed, {report['guids']['skipped']} skipped (reasons in {args.report})")
    skips = [f"{name} {item['count']}" for name, item in report["problems"].items()
             if item["skips_pair"] and item["count"]]
    if skips:
        print(f"prepare: rows and pairs skipped: {', '.join(skips)}")
    duplicates = report["duplicate_posts"]
    if duplicates["groups"]:
        print(f"prepare: {report['problems']['duplicate_post']['count']} pairs repeat another's "
              f"image and text ({duplicates['groups']} groups, "
              f"{duplicates['groups_with_differing_labels']} labelled differently); all kept")


if __name__ == "__main__":
    main()
