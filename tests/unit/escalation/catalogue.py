"""Consultations in every state, reached the way the engine would reach them, with the
situation they were reached in."""

from __future__ import annotations

from collections.abc import Callable

from escalation import (
    Accept,
    End,
    Escalate,
    Fail,
    Leave,
    NurseGone,
    RequestCallback,
    Situation,
    Strategy,
    WrapUpDone,
)
from escalation.events import Cancel

from .builders import NURSE, Call, policy, tier

EVERYONE: Situation = {1: tier((1, 2), busy=(3,)), 2: tier((5, 6), own_gp=9), 3: tier((7,))}


def _requested() -> Call:
    return Call(EVERYONE)


def _ringing() -> Call:
    call = Call(EVERYONE)
    call.start()
    return call


def _ringing_own_gp() -> Call:
    call = _ringing()
    call.fire()
    return call


def _ringing_longest_idle() -> Call:
    call = Call(EVERYONE, policy(Strategy.LONGEST_IDLE, Strategy.LONGEST_IDLE))
    call.start()
    call.fire()
    call.fire()
    return call


def _waking() -> Call:
    call = Call({1: tier(asleep=(1, 2)), 2: tier((5,))})
    call.start()
    return call


def _queued() -> Call:
    call = Call({1: tier((1,)), 2: tier(busy=(5,)), 3: tier(asleep=(7,))})
    call.start()
    call.fire()
    call.fire()
    return call


def _queued_empty() -> Call:
    call = Call({})
    call.start()
    return call


def _callback() -> Call:
    call = _ringing()
    call.send(RequestCallback())
    return call


def _callback_empty() -> Call:
    call = Call({})
    call.send(RequestCallback())
    return call


def _connected() -> Call:
    call = _ringing()
    call.send(Accept(1), after=5)
    return call


def _connected_two() -> Call:
    call = _escalating()
    call.send(Accept(9), after=5)
    return call


def _connected_top() -> Call:
    call = Call({3: tier((7,))})
    call.start()
    call.send(Accept(7))
    return call


def _escalating() -> Call:
    call = _connected()
    call.send(Escalate(1, "note"), after=5)
    return call


def _escalating_waking() -> Call:
    call = Call({1: tier((1,)), 2: tier(asleep=(5,))})
    call.start()
    call.send(Accept(1))
    call.send(Escalate(1, "note"))
    return call


def _wrap_up() -> Call:
    call = _connected_two()
    call.send(End(NURSE), after=60)
    return call


def _ended() -> Call:
    call = _connected()
    call.send(Leave(1))
    call.send(WrapUpDone(1))
    return call


def _cancelled() -> Call:
    call = _ringing()
    call.send(Cancel(NURSE))
    return call


def _abandoned() -> Call:
    call = _waking()
    call.send(NurseGone())
    return call


def _failed() -> Call:
    call = _connected()
    call.send(Fail("relay lost"))
    return call


def _failed_early() -> Call:
    call = _queued()
    call.send(Fail("relay lost"))
    return call


#: name -> how to get there; the name's first word is the state's value.
CATALOGUE: dict[str, Callable[[], Call]] = {
    "requested": _requested,
    "ringing": _ringing,
    "ringing own_gp": _ringing_own_gp,
    "ringing longest_idle": _ringing_longest_idle,
    "waking": _waking,
    "queued": _queued,
    "queued empty": _queued_empty,
    "callback": _callback,
    "callback empty": _callback_empty,
    "connected": _connected,
    "connected two": _connected_two,
    "connected top": _connected_top,
    "escalating": _escalating,
    "escalating waking": _escalating_waking,
    "wrap_up": _wrap_up,
    "ended": _ended,
    "cancelled": _cancelled,
    "abandoned": _abandoned,
    "failed": _failed,
    "failed early": _failed_early,
}
