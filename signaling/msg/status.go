// SPDX-License-Identifier: MIT

package msg

import "strconv"

// Status is the status of a binding acknowledgement, or the per-BID status
// in a Binding Identifier option (RFC 6275 §6.1.8, RFC 3963 §4.2, RFC 5648
// §6.1). Values below 128 mean the binding was accepted.
type Status uint8

// Status codes, as assigned in the IANA Mobile IPv6 "Status Codes" registry.
const (
	StatusAccepted                    Status = 0   // RFC 6275: binding update accepted
	StatusAcceptedPrefixDiscovery     Status = 1   // RFC 6275: accepted but prefix discovery necessary
	StatusMCoANotComplete             Status = 4   // RFC 5648: MCOA NOTCOMPLETE (see the BID options)
	StatusMCoAReturnHomeWithoutNDP    Status = 5   // RFC 5648: MCOA RETURNHOME WO/NDP
	StatusReasonUnspecified           Status = 128 // RFC 6275
	StatusAdminProhibited             Status = 129 // RFC 6275: administratively prohibited
	StatusInsufficientResources       Status = 130 // RFC 6275
	StatusHomeRegistrationUnsupported Status = 131 // RFC 6275: home registration not supported
	StatusNotHomeSubnet               Status = 132 // RFC 6275
	StatusNotHomeAgent                Status = 133 // RFC 6275: not home agent for this mobile node
	StatusDADFailed                   Status = 134 // RFC 6275: duplicate address detection failed
	StatusSequenceOutOfWindow         Status = 135 // RFC 6275: sequence number out of window
	StatusRegistrationTypeChange      Status = 139 // RFC 6275: registration type change disallowed
	StatusMROperationNotPermitted     Status = 140 // RFC 3963: mobile router operation not permitted
	StatusInvalidPrefix               Status = 141 // RFC 3963
	StatusNotAuthorizedForPrefix      Status = 142 // RFC 3963
	StatusForwardingSetupFailed       Status = 143 // RFC 3963: forwarding setup failed (prefixes missing)
	StatusMCoAMalformed               Status = 164 // RFC 5648: MCOA MALFORMED
	StatusMCoANonMCoABindingExists    Status = 165 // RFC 5648: MCOA NON-MCOA BINDING EXISTS
	StatusMCoAProhibited              Status = 166 // RFC 5648: MCOA PROHIBITED
	StatusMCoAUnknownCoA              Status = 167 // RFC 5648: MCOA UNKNOWN COA
	StatusMCoABulkRegProhibited       Status = 168 // RFC 5648: MCOA BULK REGISTRATION PROHIBITED
	StatusMCoASimultaneousHFProhibit  Status = 169 // RFC 5648: MCOA SIMULTANEOUS HOME AND FOREIGN PROHIBITED
	StatusInvalidCareOfAddress        Status = 174 // RFC 6275: invalid care-of address
)

// Accepted reports whether s means success (s < 128).
func (s Status) Accepted() bool { return s < 128 }

// String returns the status's name, in the words of its RFC.
func (s Status) String() string {
	switch s {
	case StatusAccepted:
		return "accepted"
	case StatusAcceptedPrefixDiscovery:
		return "accepted but prefix discovery necessary"
	case StatusMCoANotComplete:
		return "mcoa not complete"
	case StatusMCoAReturnHomeWithoutNDP:
		return "mcoa return home without ndp"
	case StatusReasonUnspecified:
		return "reason unspecified"
	case StatusAdminProhibited:
		return "administratively prohibited"
	case StatusInsufficientResources:
		return "insufficient resources"
	case StatusHomeRegistrationUnsupported:
		return "home registration not supported"
	case StatusNotHomeSubnet:
		return "not home subnet"
	case StatusNotHomeAgent:
		return "not home agent for this mobile node"
	case StatusDADFailed:
		return "duplicate address detection failed"
	case StatusSequenceOutOfWindow:
		return "sequence number out of window"
	case StatusRegistrationTypeChange:
		return "registration type change disallowed"
	case StatusMROperationNotPermitted:
		return "mobile router operation not permitted"
	case StatusInvalidPrefix:
		return "invalid prefix"
	case StatusNotAuthorizedForPrefix:
		return "not authorized for prefix"
	case StatusForwardingSetupFailed:
		return "forwarding setup failed"
	case StatusMCoAMalformed:
		return "mcoa malformed"
	case StatusMCoANonMCoABindingExists:
		return "mcoa non-mcoa binding exists"
	case StatusMCoAProhibited:
		return "mcoa prohibited"
	case StatusMCoAUnknownCoA:
		return "mcoa unknown coa"
	case StatusMCoABulkRegProhibited:
		return "mcoa bulk registration prohibited"
	case StatusMCoASimultaneousHFProhibit:
		return "mcoa simultaneous home and foreign prohibited"
	case StatusInvalidCareOfAddress:
		return "invalid care-of address"
	}
	if s.Accepted() {
		return "accepted(" + strconv.Itoa(int(s)) + ")"
	}
	return "rejected(" + strconv.Itoa(int(s)) + ")"
}

// FlowStatus is the status of a Flow Identification option (RFC 6089 §4.2),
// a registry of its own: the per-rule result of a flow binding. Values below
// 128 mean success.
type FlowStatus uint8

// Flow binding status codes (RFC 6089 §4.2).
const (
	FlowStatusSuccess                 FlowStatus = 0   // flow binding successful
	FlowStatusAdminProhibited         FlowStatus = 128 // administratively prohibited
	FlowStatusReasonUnspecified       FlowStatus = 129 // flow binding rejected, reason unspecified
	FlowStatusMalformed               FlowStatus = 130 // flow identification option malformed
	FlowStatusBIDNotFound             FlowStatus = 131 // BID not found
	FlowStatusFIDNotFound             FlowStatus = 132 // FID not found
	FlowStatusSelectorFormatUnsupport FlowStatus = 133 // traffic selector format not supported
)

// Accepted reports whether s means success (s < 128).
func (s FlowStatus) Accepted() bool { return s < 128 }

// String returns the flow status's name, in the words of RFC 6089.
func (s FlowStatus) String() string {
	switch s {
	case FlowStatusSuccess:
		return "flow binding successful"
	case FlowStatusAdminProhibited:
		return "administratively prohibited"
	case FlowStatusReasonUnspecified:
		return "flow binding rejected, reason unspecified"
	case FlowStatusMalformed:
		return "flow identification option malformed"
	case FlowStatusBIDNotFound:
		return "bid not found"
	case FlowStatusFIDNotFound:
		return "fid not found"
	case FlowStatusSelectorFormatUnsupport:
		return "traffic selector format not supported"
	}
	if s.Accepted() {
		return "accepted(" + strconv.Itoa(int(s)) + ")"
	}
	return "rejected(" + strconv.Itoa(int(s)) + ")"
}
