"""The PostgreSQL database, decoupled from the environment (it outlives it): an RDS instance created or
adopted, reachable only from the environment's instances, and the connection budget checked."""

from __future__ import annotations

import importlib.util
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError

from .errors import DEPLOY_FAILED, DeployError
from .namespaces import APPLICATION_ENVIRONMENT, AUTOSCALING_GROUP

ENGINE, CLASS, STORAGE_GIB, USER, NAME = "postgres", "db.t4g.micro", 20, "board", "board"
# RDS for PostgreSQL's default max_connections: LEAST(DBInstanceClassMemory / 9531392, 5000), where the
# class memory is the instance's RAM less what the OS and RDS keep (roughly 10% on small classes).
MEMORY_GIB = {"db.t4g.micro": 1, "db.t3.micro": 1, "db.t4g.small": 2, "db.t3.small": 2, "db.t4g.medium": 4,
              "db.t3.medium": 4, "db.t4g.large": 8, "db.t3.large": 8, "db.m6g.large": 8, "db.m7g.large": 8,
              "db.r6g.large": 16, "db.m6g.xlarge": 16}
EB_DEFAULT_MAX_INSTANCES = 4  # AUTOSCALING_GROUP MaxSize
EB_DEFAULT_VCPUS = 2  # t3.micro / t3.small, EB's default instance types


@dataclass
class Database:
    host: str
    port: int
    name: str
    user: str
    instance_class: str | None


def default_max_connections(instance_class: str | None) -> int | None:
    gib = MEMORY_GIB.get(instance_class or "")
    return min(int(gib * 2**30 * 0.9) // 9531392, 5000) if gib else None


def board_config(root: Path):
    """board/config.py, loaded by path (the deploy tool does not install Flask): the one home of the defaults."""
    spec = importlib.util.spec_from_file_location("_board_config_for_deploy", root / "board" / "config.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def connection_budget(max_instances: int, workers: int, threads: int) -> int:
    """Each gunicorn thread may hold one connection (pool size = threads), one process per worker."""
    return max_instances * workers * threads


def budget_warning(root: Path, options: dict, database: Database) -> str | None:
    limit = default_max_connections(database.instance_class)
    if limit is None:
        return None
    config = board_config(root)
    environment = {name: str(value) for name, value in
                   options.get(APPLICATION_ENVIRONMENT, {}).items()}
    threads = int(config.GUNICORN_THREADS.read(environment))
    workers = int(config.WEB_CONCURRENCY.read(environment) or EB_DEFAULT_VCPUS)
    instances = int(options.get(AUTOSCALING_GROUP, {}).get("MaxSize") or EB_DEFAULT_MAX_INSTANCES)
    budget = connection_budget(instances, workers, threads)
    if budget <= limit:
        return None
    return (f"warning: at the autoscaling maximum the app may open {budget} connections ({instances} instances × "
            f"{workers} workers × {threads} threads) but {database.instance_class} allows about {limit} "
            "(max_connections): lower MaxSize, WEB_CONCURRENCY or GUNICORN_THREADS, or pick a larger class")


def default_vpc(ec2) -> str:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        raise DeployError("this region has no default VPC; create one (aws ec2 create-default-vpc)")
    return vpcs[0]["VpcId"]


def ensure_group(ec2, vpc: str, name: str, description: str, out) -> str:
    found = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]},
                                                  {"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]
    if found:
        return found[0]["GroupId"]
    group = ec2.create_security_group(GroupName=name, Description=description, VpcId=vpc)["GroupId"]
    out(f"created security group {name} ({group})")
    return group


def allow_from(ec2, database_group: str, instances_group: str, port: int) -> None:
    """PostgreSQL's port open to the environment's instances only (their security group), nothing else."""
    try:
        ec2.authorize_security_group_ingress(GroupId=database_group, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": port, "ToPort": port,
            "UserIdGroupPairs": [{"GroupId": instances_group, "Description": "board instances"}]}])
    except ClientError as error:
        if error.response["Error"]["Code"] != "InvalidPermission.Duplicate":
            raise


def describe(rds, identifier: str) -> dict:
    try:
        return rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    except ClientError as error:
        if error.response["Error"]["Code"] == "DBInstanceNotFound":
            raise DeployError(f"no RDS instance {identifier!r} (check --rds-instance and --region)") from None
        raise


def found(instance: dict) -> Database:
    endpoint = instance.get("Endpoint") or {}
    return Database(endpoint.get("Address", ""), int(endpoint.get("Port", 5432)), instance.get("DBName") or NAME,
                    instance["MasterUsername"], instance.get("DBInstanceClass"))


def create(rds, identifier: str, password: str, group: str, out, timeout: float = 1800, poll: float = 5) -> dict:
    try:
        return describe(rds, identifier)
    except DeployError:
        pass
    out(f"creating RDS PostgreSQL {identifier} ({CLASS}, {STORAGE_GIB} GiB, encrypted, not public)")
    rds.create_db_instance(DBInstanceIdentifier=identifier, Engine=ENGINE, DBInstanceClass=CLASS,
                           AllocatedStorage=STORAGE_GIB, DBName=NAME, MasterUsername=USER,
                           MasterUserPassword=password, VpcSecurityGroupIds=[group], PubliclyAccessible=False,
                           StorageEncrypted=True, BackupRetentionPeriod=7, DeletionProtection=True,
                           Tags=[{"Key": "board:environment", "Value": identifier.removesuffix("-db")}])
    return wait_available(rds, identifier, timeout, poll, out)


def wait_available(rds, identifier: str, timeout: float, poll: float, out, clock=time.monotonic,
                   sleep=time.sleep) -> dict:
    """Until the instance is available (RDS takes minutes), saying each status it passes through; within
    provision's --timeout and at its --poll."""
    deadline, said = clock() + timeout, None
    while True:
        instance = describe(rds, identifier)
        status = instance.get("DBInstanceStatus", "unknown")
        if status != said:
            out(f"RDS {identifier}: {status}")
            said = status
        if status == "available":
            return instance
        if status in ("failed", "incompatible-parameters", "incompatible-network", "storage-full"):
            raise DeployError(f"RDS {identifier} is {status}; see its events in the RDS console", DEPLOY_FAILED)
        if clock() >= deadline:
            raise DeployError(f"RDS {identifier} still {status} after {timeout:.0f} s; it goes on: run provision "
                              "again to pick up where this left off", DEPLOY_FAILED)
        sleep(poll)


def attach_group(rds, instance: dict, group: str) -> None:
    """An adopted instance gets the database security group too (its own groups stay)."""
    groups = [g["VpcSecurityGroupId"] for g in instance.get("VpcSecurityGroups", [])]
    if group not in groups:
        rds.modify_db_instance(DBInstanceIdentifier=instance["DBInstanceIdentifier"],
                               VpcSecurityGroupIds=groups + [group], ApplyImmediately=True)
