"""The test harness's services are real: each one answers its own protocol on loopback."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests import services

REPO = Path(__file__).resolve().parents[1]


def test_s3_server_stores_and_returns_objects(s3_server: services.BackgroundServer) -> None:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{s3_server.port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket="harness")
    client.put_object(Bucket="harness", Key="a/b.txt", Body=b"hello")
    assert client.get_object(Bucket="harness", Key="a/b.txt")["Body"].read() == b"hello"


def test_azurite_stores_and_returns_blobs(azurite: services.BackgroundServer) -> None:
    from azure.storage.blob import BlobServiceClient

    client = BlobServiceClient.from_connection_string(services.azurite_connection_string(azurite.port))
    container = client.create_container("harness")
    container.upload_blob("a/b.txt", b"hello")
    assert container.download_blob("a/b.txt").readall() == b"hello"


def test_postgres_accepts_connections(postgres: services.Postgres) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres.create_database("harness"))
    with engine.connect() as connection:
        assert (
            connection.execute(text("select current_setting('server_version_num')::int")).scalar_one()
            >= 150000
        )
    engine.dispose()


def test_docker_runs_python_in_the_locally_built_base_image(
    docker_engine: services.DockerEngine, base_image: str
) -> None:
    import docker

    client = docker.DockerClient(base_url=docker_engine.url)
    output = client.containers.run(base_image, ["python3", "-c", "print(6 * 7)"], remove=True)
    assert output.strip() == b"42"
    client.close()


def test_docker_compose_file_is_valid() -> None:
    run = subprocess.run(
        ["docker-compose", "-f", str(REPO / "docker-compose.yaml"), "config", "--services"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert run.returncode == 0, run.stderr
    assert {
        "postgres",
        "s3",
        "airflow-api-server",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
    } <= set(run.stdout.split())
