# rest-tools 1.13.6 tests/unit_server/session_test.py, run against interlink.rest.
# ADAPTED: imports; the Redis case needs a Redis server (see redis_or_explain); the times are
# widened for a loaded machine (README: expiration 0.1 s -> 1 s, and each "still there" check
# keeps at least 0.4 s of slack where rest-tools kept 0.02 s).
import socket
import time

import pytest

from interlink.rest.server import Session, SessionWrapper  # ADAPTED
from interlink.rest._session import redis_available  # ADAPTED

STORAGE_TYPES = ['memory', 'redis']  # ADAPTED: 'redis' always listed; redis_or_explain says what it needs

EXPIRATION = 1.0  # ADAPTED: 0.1


def redis_or_explain(storage_type):  # ADAPTED: rest-tools assumed a Redis server on localhost
    if storage_type != 'redis':
        return
    if not redis_available:
        pytest.skip("the 'redis' case needs the redis package: pip install 'interlink[redis]'")
    try:
        socket.create_connection(('localhost', 6379), timeout=2).close()
    except OSError as exc:
        pytest.skip(f"the 'redis' case needs a Redis server on localhost:6379 (as rest-tools' test does): {exc}")


@pytest.mark.parametrize('storage_type', STORAGE_TYPES)
def test_memory_session(storage_type):
    redis_or_explain(storage_type)  # ADAPTED
    session_store = Session(storage_type=storage_type, expiration=EXPIRATION)

    # Make sure we start with a clear session storage
    session_store.clear()

    # Create a session
    session_store.set('user123', {'username': 'Alice'})

    # Access the session - this will update the last_accessed time and extend expiry
    time.sleep(.45)  # ADAPTED: .03
    session_data = session_store.get_session('user123')
    assert session_data == {'username': 'Alice'}

    time.sleep(.6)  # ADAPTED: .08
    # session should still exist
    session_store.get_session('user123')

    time.sleep(.45)  # ADAPTED: .03
    # Update the session
    session_store.set('user123', {'email': 'alice@example.com'})

    time.sleep(.6)  # ADAPTED: .08
    # session should still exist
    session_store.get_session('user123')

    # Let the session expire
    time.sleep(1.0)  # ADAPTED: .1
    with pytest.raises(KeyError):
        session_store.get_session('user123')

    # Manual cleanup
    session_store.set('user123', {'username': 'Alice'})
    time.sleep(1.1)  # ADAPTED: .11
    session_store.cleanup_expired_sessions()
    with pytest.raises(KeyError):
        session_store.get_session('user123')

    # Demonstrate deleting a session
    session_store.set('test_session', {'key': 'value'})
    session_store.get_session('test_session')
    session_store.delete_session('test_session')
    with pytest.raises(KeyError):
        session_store.get_session('test_session')

    session_store.close()


@pytest.mark.parametrize('storage_type', STORAGE_TYPES)
def test_session_wrapper(storage_type):
    redis_or_explain(storage_type)  # ADAPTED
    session_store = Session(storage_type=storage_type, expiration=EXPIRATION)

    session_store.set('user123', {'username': 'Alice'})

    data = session_store.get_session('user123')

    data_wrapper = SessionWrapper(key='user123', data=data, session_mgr=session_store)

    time.sleep(.5)  # ADAPTED: .05
    # should reset expiration
    data_wrapper['foo'] = 'bar'

    time.sleep(.6)  # ADAPTED: .07
    ret = session_store.get_session('user123')
    assert ret == {'username': 'Alice', 'foo': 'bar'}

    # should reset expiration
    del data_wrapper['foo']

    time.sleep(.6)  # ADAPTED: .07
    ret = session_store.get_session('user123')
    assert ret == {'username': 'Alice'}

    session_store.close()
