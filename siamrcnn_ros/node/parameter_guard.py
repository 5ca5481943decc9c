"""A guard in front of rclpy's parameter services: a ``ParameterValue.type`` rclpy cannot read is refused.

rclpy's ``ParameterService`` turns each request into ``rclpy.parameter.Parameter`` with
``Parameter.Type(msg.value.type)``, outside any ``try``: a type that is not one of the ``ParameterType``
constants (0-9, e.g. 99 from a hand-written client) raises ``ValueError`` in the executor, and the node's
process ends (README, "Known issues"). ``guard_parameter_services`` wraps the callbacks of the node's
``set_parameters`` and ``set_parameters_atomically`` services: requests whose types are all valid go to
rclpy's callback unchanged; a parameter with an unknown type gets a refused ``SetParametersResult`` with the
reason, and the others of a ``set_parameters`` request are still set (as rclpy answers them one by one).
The other parameter services read only names, never a ``ParameterValue`` from the client.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rcl_interfaces.msg import SetParametersResult
from rcl_interfaces.srv import SetParameters, SetParametersAtomically
from rclpy.parameter import Parameter

PARAMETER_TYPES = frozenset(int(kind.value) for kind in Parameter.Type)
"""The ``ParameterValue.type`` values rclpy can read (``rcl_interfaces/msg/ParameterType``: 0-9)."""


def type_error(parameter: Any) -> str:
    """``''`` when the ``rcl_interfaces/Parameter`` message's value type is known to rclpy, else the reason."""
    kind = int(parameter.value.type)
    if kind in PARAMETER_TYPES:
        return ''
    return (f'parameter {parameter.name!r}: ParameterValue.type {kind} is not a rcl_interfaces/ParameterType '
            f'({min(PARAMETER_TYPES)} to {max(PARAMETER_TYPES)}); refused')


def _guard_set_parameters(callback: Callable) -> Callable:
    def guarded(request: SetParameters.Request, response: SetParameters.Response) -> SetParameters.Response:
        errors = [type_error(p) for p in request.parameters]
        if not any(errors):
            return callback(request, response)
        valid = SetParameters.Request(parameters=[p for p, e in zip(request.parameters, errors, strict=True) if not e])
        results = iter(callback(valid, SetParameters.Response()).results if valid.parameters else [])
        response.results = [SetParametersResult(successful=False, reason=e) if e else next(results) for e in errors]
        return response
    return guarded


def _guard_set_parameters_atomically(callback: Callable) -> Callable:
    def guarded(request: SetParametersAtomically.Request,
                response: SetParametersAtomically.Response) -> SetParametersAtomically.Response:
        errors = [e for e in (type_error(p) for p in request.parameters) if e]
        if not errors:
            return callback(request, response)
        response.result = SetParametersResult(successful=False, reason='; '.join(errors))
        return response
    return guarded


GUARDS = {SetParameters: _guard_set_parameters, SetParametersAtomically: _guard_set_parameters_atomically}


def guard_parameter_services(node: Any) -> int:
    """Wraps the callbacks of ``node``'s own ``set_parameters`` and ``set_parameters_atomically`` services (see the
    module docstring); returns how many were wrapped (2 with rclpy's parameter services on, else 0)."""
    wrapped = 0
    for service in node.services:
        guard = GUARDS.get(service.srv_type)
        if guard is not None and service.srv_name.rsplit('/', 1)[-1] in ('set_parameters',
                                                                          'set_parameters_atomically'):
            service.callback = guard(service.callback)
            wrapped += 1
    return wrapped
