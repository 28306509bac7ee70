from streampulse.settings import Settings


def test_local_defaults_bind_to_loopback(tmp_path):
    s = Settings(state_dir=tmp_path)
    assert s.bind_host == "127.0.0.1"
    assert s.bootstrap_servers == "127.0.0.1:9092"
    assert s.registry_url == "http://127.0.0.1:8085/apis/ccompat/v7"
    assert not (s.kafka_external or s.registry_external or s.flink_external or s.database_external)


def test_password_comes_from_the_state_secret(tmp_path):
    s = Settings(state_dir=tmp_path)
    s.postgres_password_file.parent.mkdir(parents=True)
    s.postgres_password_file.write_text("s3cret\n")
    assert s.dsn() == "postgresql://streampulse:s3cret@127.0.0.1:5433/streampulse"
    assert s.dsn("other").endswith("/other")
    assert s.jdbc_url() == "jdbc:postgresql://127.0.0.1:5433/streampulse?reWriteBatchedInserts=true"
    assert s.jdbc_credentials() == ("streampulse", "s3cret")


def test_external_endpoints_by_configuration(monkeypatch, tmp_path):
    monkeypatch.setenv("STREAMPULSE_KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    monkeypatch.setenv("STREAMPULSE_FLINK_REST_URL", "http://flink.example:8081")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:pw@db.example:5432/analytics")
    s = Settings(state_dir=tmp_path)
    assert s.kafka_external and s.flink_external and s.database_external
    assert s.bootstrap_servers == "k1:9092,k2:9092"
    assert s.dsn("dagster") == "postgresql://app:pw@db.example:5432/dagster"
    assert "pw" not in repr(s)  # the URL is a secret: never printed


def test_parallelism_follows_the_cores_up_to_the_partitions(monkeypatch, tmp_path):
    monkeypatch.delenv("STREAMPULSE_FLINK_PARALLELISM", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert Settings(state_dir=tmp_path).flink_parallelism == 2
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert Settings(state_dir=tmp_path).flink_parallelism == 3  # a subtask without a partition would stall
    assert Settings(state_dir=tmp_path, events_topic_partitions=12).flink_parallelism == 12
    assert Settings(state_dir=tmp_path, flink_parallelism=1).flink_parallelism == 1


def test_job_options_come_from_json_in_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("STREAMPULSE_FLINK_JOB_CONFIG", '{"pipeline.object-reuse": "false"}')
    assert Settings(state_dir=tmp_path).flink_job_config == {"pipeline.object-reuse": "false"}
