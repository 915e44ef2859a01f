"""Expands a SAM template into plain CloudFormation with aws-sam-translator, offline."""
import json
import os
import sys

import boto3
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.public.translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class OfflinePolicyLoader(ManagedPolicyLoader):
    """The template names no AWS managed policies, so nothing needs IAM."""

    def load(self):
        return {}


def main() -> None:
    source, target = sys.argv[1], sys.argv[2]
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with open(source, encoding="utf-8") as handle:
        template = yaml_parse(handle.read())
    # `sam build` points CodeUri at the built artifacts; the offline translation needs an S3 form.
    placeholder = "s3://artifacts-placeholder/function.zip"
    template.get("Globals", {}).get("Function", {}).pop("CodeUri", None)
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource.setdefault("Properties", {})["CodeUri"] = placeholder
    try:
        expanded = transform(template, {}, OfflinePolicyLoader(boto3.client("iam", region_name="us-east-1")))
    except InvalidDocumentException as error:
        for cause in error.causes:
            print(f"SAM: {cause.message}", file=sys.stderr)
        sys.exit(1)
    with open(target, "w", encoding="utf-8") as handle:
        json.dump(expanded, handle, indent=1, default=str)


if __name__ == "__main__":
    main()
