#!/usr/bin/env python3
"""Prepares the local S3 server (moto_server, started with INITIAL_NO_AUTH_ACTION_COUNT=4) like a real account:
an IAM user allowed s3:* with an access key, and the log bucket, in exactly four unauthenticated calls; every
later request must be signed with that key. Writes the key as shell exports to OUT (mode 0600).

    python3 scripts/s3_setup.py ENDPOINT BUCKET OUT
"""
import json
import os
import sys

import boto3

endpoint, bucket, out = sys.argv[1:4]
anonymous = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="setup",
                 aws_secret_access_key="setup")
iam = boto3.client("iam", **anonymous)
iam.create_user(UserName="solstice-results")                                   # 1
iam.put_user_policy(UserName="solstice-results", PolicyName="logs", PolicyDocument=json.dumps({  # 2
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="solstice-results")["AccessKey"]          # 3
boto3.client("s3", **anonymous).create_bucket(Bucket=bucket)                    # 4
fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as f:
    f.write(f"export AWS_ACCESS_KEY_ID={key['AccessKeyId']}\nexport AWS_SECRET_ACCESS_KEY={key['SecretAccessKey']}\n")
