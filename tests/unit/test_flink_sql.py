"""The job's SQL files: statement splitting and placeholder filling (no cluster needed)."""

from flink_jobs import runner
from streampulse.settings import Settings


def test_split_keeps_statement_set_whole():
    script = """
-- a comment
CREATE TABLE a (x INT) WITH ('k' = 'v;still inside');
CREATE TABLE b (x INT);

EXECUTE STATEMENT SET
BEGIN
INSERT INTO a SELECT 1;
INSERT INTO b SELECT 2;
END;
"""
    statements = runner.split_statements(script)
    assert [s.split()[0] for s in statements] == ["CREATE", "CREATE", "EXECUTE"]
    assert statements[2].count("INSERT INTO") == 2
    assert statements[2].rstrip().endswith("END")


def test_every_placeholder_is_filled():
    settings = Settings(database_url="postgresql://u:p'w@db.example:5432/sp")
    values = runner.placeholders(settings, "topic-x", None, "group-x")
    statements = runner.render_statements(values)
    text = "\n".join(statements)
    assert "${" not in text
    assert "'topic' = 'topic-x'" in text
    assert "jdbc:postgresql://db.example:5432/sp?" in text
    assert "p''w" in text  # quotes in secrets are escaped for SQL
    assert statements[-1].startswith("-- All queries") or "EXECUTE STATEMENT SET" in statements[-1]


def test_sql_version_changes_with_the_sql(tmp_path, monkeypatch):
    (tmp_path / "01.sql").write_text("SELECT 1;")
    monkeypatch.setattr(runner, "SQL_DIR", tmp_path)
    first = runner.sql_version()
    (tmp_path / "01.sql").write_text("SELECT 2;")
    assert runner.sql_version() != first


def test_masked_render_hides_the_password():
    settings = Settings(database_url="postgresql://u:s3cret@db.example:5432/sp")
    text = "\n".join(runner.render_statements(runner.placeholders(settings, "t", None, "g", masked=True)))
    assert "s3cret" not in text and "'password' = '******'" in text


def test_the_job_files_split_into_whole_statements():
    """sqlparse splits the real files: one statement per CREATE, the statement set as one, no comments left."""
    settings = Settings(database_url="postgresql://u:p@db.example:5432/sp")
    statements = runner.render_statements(runner.placeholders(settings, "t", None, "g"))
    assert all(s.split()[0].upper() in {"CREATE", "EXECUTE"} for s in statements)
    assert not any(line.lstrip().startswith("--") for s in statements for line in s.splitlines())
    [statement_set] = [s for s in statements if s.upper().startswith("EXECUTE STATEMENT SET")]
    assert statement_set is statements[-1] and statement_set.rstrip().upper().endswith("END")
    assert statement_set.upper().count("INSERT INTO") >= 8


def test_a_bounded_run_sets_its_source_options_with_alter_table():
    settings = Settings(database_url="postgresql://u:p@db.example:5432/sp")
    values = runner.placeholders(settings, "t", None, "g")
    plain = runner.render_statements(values)
    bounded = runner.render_statements(values, source_options=runner.BOUNDED_SOURCE_OPTIONS)
    create = next(i for i, s in enumerate(bounded) if s.lower().startswith(f"create table {runner.SOURCE_TABLE}"))
    assert bounded[create + 1] == (
        f"ALTER TABLE {runner.SOURCE_TABLE} SET ('scan.startup.mode' = 'earliest-offset', "
        "'scan.bounded.mode' = 'latest-offset')"
    )
    assert bounded[: create + 1] + bounded[create + 2 :] == plain
