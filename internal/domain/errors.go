package domain

import (
	"errors"
	"fmt"
)

// Code is a machine-readable error code. Clients switch on it; the message is for people.
type Code string

// Generic codes, after benbjohnson/wtf. The transport maps them in one table.
const (
	EINVALID         Code = "INVALID"                // the input is malformed or out of range
	EUNAUTHENTICATED Code = "UNAUTHENTICATED"        // no valid identity
	EFORBIDDEN       Code = "FORBIDDEN"              // not allowed, or does not exist for this caller (no hint which)
	ENOTFOUND        Code = "NOT_FOUND"              // does not exist (only where existence is not a secret)
	ECONFLICT        Code = "CONFLICT"               // clashes with existing state
	EINTERNAL        Code = "INTERNAL"               // a fault of ours; details are logged, never shown
	ERATELIMITED     Code = "RATE_LIMITED"           // too many attempts; try again later
	EUNAVAILABLE     Code = "UNAVAILABLE"            // a dependency (the store) does not answer
	EROLEREQUIRED    Code = "ROLE_REQUIRED"          // R3: the caller lacks the role the action needs
	EALREADYBOUGHT   Code = "ALREADY_PURCHASED"      // R20: this offer is held for the enrollment period
	EOFFERRETIRED    Code = "OFFER_RETIRED"          // R20: a retired offer cannot be bought
	EEXPIRED         Code = "EXPIRED"                // R9/R23: the benefit or contract has ended
	EEXHAUSTED       Code = "NO_INCIDENTS_LEFT"      // R9/R23: no incidents remain
	EBADPAIR         Code = "INVALID_CONTRACT"       // R9: no plan matches this Access ID and Contract ID
	ELINKPLACE       Code = "LINK_NOT_ALLOWED_HERE"  // R11: the portal does not take links in this flow
	EPLANUNAVAILABLE Code = "PLAN_UNAVAILABLE"       // R23: the chosen plan cannot serve this request now
	EKEYREUSED       Code = "IDEMPOTENCY_KEY_REUSED" // the key was used for a different request
	ECSPREFUSED      Code = "CSP_NOT_ALLOWED"        // R14
	EPPIREFUSED      Code = "PPI_NOT_ALLOWED"        // R21
	EALREADYCLOSED   Code = "ALREADY_CLOSED"         // the request was closed already, for another reason
	EPROVIDERONLY    Code = "SUPPORT_PROVIDER_ONLY"  // R25: only the support provider records a resolution
	EPARTNERONLY     Code = "PARTNER_ONLY"           // R25: a support provider cannot act for a partner
	EUNSAFETEXT      Code = "UNSAFE_TEXT"            // free text with control or bidi-override characters
	EFIELDNOTAPPLY   Code = "FIELD_NOT_APPLICABLE"   // a field that has no meaning for this request
)

// Error is an expected, explainable refusal. Rule names the business rule from
// docs/rules.md that it applies (for example "R9"), when one does. Field is the
// input path the error is about, when there is one.
type Error struct {
	Code    Code
	Rule    string
	Field   []string
	Message string
	// Meta carries extra machine-readable facts, such as the roles that would be
	// allowed (R3). Values must never carry secrets.
	Meta map[string]any
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Rule != "" {
		return fmt.Sprintf("%s (%s): %s", e.Code, e.Rule, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf builds an *Error.
func Errorf(code Code, rule string, format string, args ...any) *Error {
	return &Error{Code: code, Rule: rule, Message: fmt.Sprintf(format, args...)}
}

// WithField returns a copy of e about the given input path.
func (e *Error) WithField(path ...string) *Error {
	c := *e
	c.Field = path
	return &c
}

// ErrorCode returns the code of err: EINTERNAL for any error that is not an *Error.
func ErrorCode(err error) Code {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// AsError returns the *Error inside err, if there is one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Forbidden is the one answer for a resource the caller may not see, whether or not it
// exists, so that a refusal never confirms existence (R4).
func Forbidden() *Error {
	return Errorf(EFORBIDDEN, "", "not found, or you are not allowed to see it")
}

// Clip bounds client text echoed in a message.
func Clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
