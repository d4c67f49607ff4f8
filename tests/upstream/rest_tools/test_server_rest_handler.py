"""Test REST Handler."""

# fmt:off
# pylint: skip-file

import json
import logging
from unittest.mock import MagicMock

import jwt.algorithms
import pytest
from tornado.web import Application, HTTPError

from interlink.rest.server import (
    KeycloakUsernameMixin,
    OpenIDCookieHandlerMixin,
    OpenIDLoginHandler,
    RestHandler,
    RestHandlerSetup,
)
from interlink.rest import Auth, OpenIDAuth

from upstream.rest_tools.rest_server_fixtures import gen_keys, gen_keys_bytes, shared_key, loopback  # noqa: F401

pytestmark = pytest.mark.anyio  # ADAPTED: upstream runs async tests with pytest-asyncio's asyncio_mode=auto


def test_rest_handler_setup(loopback, shared_key):  # noqa: F811
    ret = RestHandlerSetup({})
    assert ret['auth'] is None

    ret = RestHandlerSetup({'debug': True})
    assert ret['debug']

    ret = RestHandlerSetup({'auth': {'url': 'foo'}})
    assert ret['auth_url'] == 'foo'

    ret = RestHandlerSetup({'auth': {'secret': shared_key}})
    assert isinstance(ret['auth'], Auth)

    # test audience and issuers
    ret = RestHandlerSetup({'auth': {'secret': shared_key, 'audience': 'bar', 'issuer': 'baz', 'issuers': ['baz']}})
    assert isinstance(ret['auth'], Auth)
    tok = ret['auth'].create_token('subj', expiration=20, payload={'aud': 'bar'})
    ret['auth'].validate(tok)

    loopback.get(loopback.url + '/.well-known/openid-configuration', text=json.dumps({'token_endpoint': 'bar'}))
    ret = RestHandlerSetup({'auth': {'openid_url': loopback.url}})
    assert isinstance(ret['auth'], OpenIDAuth)
    assert loopback.called
    assert ret['auth_url'] == 'bar'

    ret = RestHandlerSetup({'rest_api': {'auth_key': 'foo'}})
    assert ret['module_auth_key'] == 'foo'


def test_rest_handler_initialize():
    rh = RestHandler()
    rh.initialize(debug=True)
    assert rh.debug


def test_rest_handler_get_current_user(shared_key):  # noqa: F811
    a = Auth(shared_key)
    rh = RestHandler()
    rh.initialize(auth=a)
    rh.request = MagicMock()

    rh.request.headers = {}
    assert rh.get_current_user() is None

    token = a.create_token('subject', payload={'foo': 'bar'})
    rh.request.headers = {'Authorization': f'bearer {token}'}
    assert rh.get_current_user() == 'subject'
    assert rh.auth_data['foo'] == 'bar'
    assert rh.auth_key == token


def test_keycloak_username_mixin():
    auth_data = {}

    class Base:
        def get_current_user(self):
            self.auth_data = auth_data
            return 'foo'

    class A(KeycloakUsernameMixin, Base):
        pass

    test = A()

    assert test.get_current_user() is None

    auth_data['preferred_username'] = 'user'
    assert test.get_current_user() == 'user'

    del auth_data['preferred_username']
    auth_data['upn'] = 'user'
    assert test.get_current_user() == 'user'


def test_openid_cookie_handler_mixin(shared_key):  # noqa: F811
    a = Auth(shared_key)

    class A(OpenIDCookieHandlerMixin, RestHandler):
        pass

    rh = A()
    rh.initialize(auth=a)
    rh.get_secure_cookie = MagicMock(return_value=b'')

    assert rh.get_current_user() is None

    token = a.create_token('subject', payload={'foo': 'bar'}).encode('utf-8')

    def get_token(name, *args, **kwargs):
        if name == 'access_token':
            return token
        elif name == 'refresh_token':
            return b''
        else:
            return None

    rh.get_secure_cookie = get_token

    assert rh.get_current_user() == 'subject'
    assert rh.auth_data['foo'] == 'bar'
    assert rh.auth_key == token.decode('utf-8')


def test_openid_login_handler_initialize(loopback, shared_key):  # noqa: F811
    handler = OpenIDLoginHandler()
    with pytest.raises(RuntimeError):
        handler.initialize(oauth_client_id='foo', oauth_client_secret=shared_key)

    loopback.get(loopback.url + '/.well-known/openid-configuration', text=json.dumps({
        'authorization_endpoint': loopback.url + '/auth',
        'token_endpoint': loopback.url + '/token',
        'end_session_endpoint': loopback.url + '/logout',
        'userinfo_endpoint': loopback.url + '/userinfo',
    }))
    ret = RestHandlerSetup({'auth': {'openid_url': loopback.url}})
    handler.initialize(oauth_client_id='foo', oauth_client_secret=shared_key, **ret)

    assert handler._OAUTH_AUTHORIZE_URL == loopback.url + '/auth'
    assert handler._OAUTH_ACCESS_TOKEN_URL == loopback.url + '/token'
    assert handler._OAUTH_LOGOUT_URL == loopback.url + '/logout'
    assert handler._OAUTH_USERINFO_URL == loopback.url + '/userinfo'


async def test_openid_login_handler_get_authenticated_user(gen_keys, gen_keys_bytes, loopback):  # noqa: F811
    handler = OpenIDLoginHandler()

    auth = Auth(gen_keys_bytes[0], pub_secret=gen_keys_bytes[1], algorithm='RS256')

    loopback.get(loopback.url + '/.well-known/openid-configuration', text=json.dumps({
        'authorization_endpoint': loopback.url + '/auth',
        'token_endpoint': loopback.url + '/token',
        'end_session_endpoint': loopback.url + '/logout',
        'userinfo_endpoint': loopback.url + '/userinfo',
        'jwks_uri': loopback.url + '/jwks',
    }))
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(gen_keys[1]))
    jwk['kid'] = '123'
    logging.debug(jwk)
    loopback.get(loopback.url + '/jwks', text=json.dumps({
        'keys': [jwk],
    }))
    ret = RestHandlerSetup({'auth': {'openid_url': loopback.url}})
    handler.initialize(oauth_client_id='foo', oauth_client_secret='bar', **ret)

    access_token = auth.create_token('sub', headers={'kid': '123'})
    id_token = auth.create_token('sub', headers={'kid': '123'})

    user_info = {
        'id_token': id_token,
        'access_token': access_token,
        'expires_in': 3600,
    }

    # ADAPTED: the token endpoint is the loopback server (upstream mocked the HTTP client's fetch)
    loopback.get(loopback.url + '/token', text=json.dumps(user_info))
    state = {}
    ret = await handler.get_authenticated_user('redirect', 'code', state)
    user_info_ret = user_info.copy()
    user_info_ret['id_token'] = auth.validate(id_token)
    assert ret == user_info_ret


def test_openid_login_handler_encode_decode_state(loopback):
    application = Application([], cookie_secret='secret')

    loopback.get(loopback.url + '/.well-known/openid-configuration', text=json.dumps({
        'authorization_endpoint': loopback.url + '/auth',
        'token_endpoint': loopback.url + '/token',
        'end_session_endpoint': loopback.url + '/logout',
        'userinfo_endpoint': loopback.url + '/userinfo',
        'jwks_uri': loopback.url + '/jwks',
    }))
    ret = RestHandlerSetup({'auth': {'openid_url': loopback.url}})
    ret['oauth_client_id'] = 'foo'
    ret['oauth_client_secret'] = 'bar'
    handler = OpenIDLoginHandler(application, MagicMock(), **ret)

    data = {'foo': 'bar'}
    state = handler._encode_state(data)
    data2 = handler._decode_state(state)
    assert data == data2


async def test_openid_login_handler_get__no_body(gen_keys, gen_keys_bytes, loopback):  # noqa: F811
    application = Application([], cookie_secret='secret', login_url='/login', debug=True)

    # auth = Auth(gen_keys_bytes[0], pub_secret=gen_keys_bytes[1], algorithm='RS256')

    loopback.get(loopback.url + '/.well-known/openid-configuration', text=json.dumps({
        'authorization_endpoint': loopback.url + '/auth',
        'token_endpoint': loopback.url + '/token',
        'end_session_endpoint': loopback.url + '/logout',
        'userinfo_endpoint': loopback.url + '/userinfo',
        'jwks_uri': loopback.url + '/jwks',
    }))
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(gen_keys[1]))
    jwk['kid'] = '123'
    logging.debug(jwk)
    loopback.get(loopback.url + '/jwks', text=json.dumps({
        'keys': [jwk],
    }))
    ret = RestHandlerSetup({'auth': {'openid_url': loopback.url}})
    ret['oauth_client_id'] = 'foo'
    ret['oauth_client_secret'] = 'bar'

    # setup request
    request = MagicMock()
    handler = OpenIDLoginHandler(application, request, **ret)

    # first-time get
    handler.authorize_redirect = MagicMock()
    request.body = ''
    await handler.get()
    handler.authorize_redirect.assert_called()


async def test_openid_login_handler_get__okay(gen_keys, gen_keys_bytes, loopback):  # noqa: F811
    application = Application([], cookie_secret='secret', login_url='/login', debug=True)

    auth = Auth(gen_keys_bytes[0], pub_secret=gen_keys_bytes[1], algorithm='RS256')

    loopback.get(loopback.url + '/.well-known/openid-configuration', text=json.dumps({
        'authorization_endpoint': loopback.url + '/auth',
        'token_endpoint': loopback.url + '/token',
        'end_session_endpoint': loopback.url + '/logout',
        'userinfo_endpoint': loopback.url + '/userinfo',
        'jwks_uri': loopback.url + '/jwks',
    }))
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(gen_keys[1]))
    jwk['kid'] = '123'
    logging.debug(jwk)
    loopback.get(loopback.url + '/jwks', text=json.dumps({
        'keys': [jwk],
    }))
    ret = RestHandlerSetup({'auth': {'openid_url': loopback.url}})
    ret['oauth_client_id'] = 'foo'
    ret['oauth_client_secret'] = 'bar'

    # setup request
    request = MagicMock()
    handler = OpenIDLoginHandler(application, request, **ret)

    # get with code
    token = auth.create_token('sub', headers={'kid': '123'})
    user_info = {
        'id_token': '{"id": "foo"}',
        'access_token': token,
        'expires_in': 3600,
    }

    async def fn2(*args, **Kwargs):
        return user_info

    handler.get_authenticated_user = MagicMock(side_effect=fn2)

    request.body = '{"code": "thecode", "state": "state"}'
    handler._decode_state = MagicMock(return_value={})
    handler.write = MagicMock()
    await handler.get()
    handler.write.assert_called()
    assert handler.write.call_args[0][0] == user_info


async def test_openid_login_handler_get__with_error(gen_keys, gen_keys_bytes, loopback):  # noqa: F811
    application = Application([], cookie_secret='secret', login_url='/login', debug=True)

    # auth = Auth(gen_keys_bytes[0], pub_secret=gen_keys_bytes[1], algorithm='RS256')

    loopback.get(loopback.url + '/.well-known/openid-configuration', text=json.dumps({
        'authorization_endpoint': loopback.url + '/auth',
        'token_endpoint': loopback.url + '/token',
        'end_session_endpoint': loopback.url + '/logout',
        'userinfo_endpoint': loopback.url + '/userinfo',
        'jwks_uri': loopback.url + '/jwks',
    }))
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(gen_keys[1]))
    jwk['kid'] = '123'
    logging.debug(jwk)
    loopback.get(loopback.url + '/jwks', text=json.dumps({
        'keys': [jwk],
    }))
    ret = RestHandlerSetup({'auth': {'openid_url': loopback.url}})
    ret['oauth_client_id'] = 'foo'
    ret['oauth_client_secret'] = 'bar'

    # setup request
    request = MagicMock()
    handler = OpenIDLoginHandler(application, request, **ret)

    # get with error
    request.body = '{"error": true, "error_description": "the error"}'
    handler._decode_state = MagicMock(return_value={})
    handler.authorize_redirect = MagicMock()
    with pytest.raises(HTTPError, match='the error'):
        await handler.get()
    handler.authorize_redirect.assert_not_called()
