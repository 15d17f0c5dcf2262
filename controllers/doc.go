// Package controllers reconciles Roster's iam.roster.dev objects: it gives
// every User and Organization a numeric ID, keeps their status (conditions,
// organizations, member counts) up to date, makes sure an Organization's owner
// holds an owner Membership, and removes the memberships of deleted users and
// organizations. docs/controllers.md describes the design.
package controllers
