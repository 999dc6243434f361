"""The escalation data model in one place: states, events, actions, the consultation, the
policy and situation, and the errors. The definitions live in the modules named for them;
this module is what the engine imports (``from escalation.model import Offer, ...``)."""

# Re-exported (``import X as X``) so that the model comes from one module.
from .actions import Action as Action
from .actions import AlertCoordinators as AlertCoordinators
from .actions import CancelTimers as CancelTimers
from .actions import Decision as Decision
from .actions import Join as Join
from .actions import NotifyNurse as NotifyNurse
from .actions import Offer as Offer
from .actions import Record as Record
from .actions import StartTimer as StartTimer
from .actions import Wake as Wake
from .actions import Withdraw as Withdraw
from .consultation import Channel as Channel
from .consultation import Consultation as Consultation
from .consultation import Stage as Stage
from .consultation import State as State
from .consultation import TimerKind as TimerKind
from .consultation import Urgency as Urgency
from .consultation import new_consultation as new_consultation
from .errors import EscalationError as EscalationError
from .errors import IllegalTransition as IllegalTransition
from .errors import InvalidPolicy as InvalidPolicy
from .errors import NaiveDatetime as NaiveDatetime
from .errors import NoHigherTier as NoHigherTier
from .errors import NotOffered as NotOffered
from .errors import NotParticipant as NotParticipant
from .events import Accept as Accept
from .events import AdvisorAvailable as AdvisorAvailable
from .events import Cancel as Cancel
from .events import Decline as Decline
from .events import End as End
from .events import Escalate as Escalate
from .events import Event as Event
from .events import Fail as Fail
from .events import Leave as Leave
from .events import NurseGone as NurseGone
from .events import RequestCallback as RequestCallback
from .events import Retry as Retry
from .events import RingTimeout as RingTimeout
from .events import Start as Start
from .events import TimerEvent as TimerEvent
from .events import WakeTimeout as WakeTimeout
from .events import WrapUpDone as WrapUpDone
from .events import WrapUpTimeout as WrapUpTimeout
from .policy import GP_TIER as GP_TIER
from .policy import NOBODY as NOBODY
from .policy import UNREAD as UNREAD
from .policy import Policy as Policy
from .policy import Situation as Situation
from .policy import SituationNeeded as SituationNeeded
from .policy import Strategy as Strategy
from .policy import TierPolicy as TierPolicy
from .policy import TierView as TierView
