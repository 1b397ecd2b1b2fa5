from testkit.ports import free_port
from testkit.tree import migration_head
from tests.conftest import make_app


def unreachable_database_app():
    # Nothing listens on a fresh free port: every connection is refused at once.
    return make_app(f"postgresql+psycopg2://u:p@127.0.0.1:{free_port()}/none")


def test_healthz_answers_while_database_is_down():
    client = unreachable_database_app().test_client()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_is_503_with_reason_while_database_is_down():
    response = unreachable_database_app().test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "reason": "database unreachable"}


def test_readyz_is_ok_with_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"


def test_version_shows_label_and_migration_head(app, client):
    app.config["APP_VERSION"] = "v42-abc123"
    body = client.get("/version").get_json()
    assert body == {"version": "v42-abc123", "schema": migration_head()}
